// Poco value types that cross into Python as standard library objects:
//   Poco::Timespan  <-> datetime.timedelta (microsecond exact, both ways)
//   Poco::Timestamp <-> timezone-aware datetime.datetime (UTC on the way out)
// A bare number is never taken for a Timespan: Poco counts microseconds,
// Python code counts seconds, and guessing would be wrong by a million.
#pragma once

#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>
#include <pybind11/pybind11.h>

#include <datetime.h>

namespace pybind11::detail {

inline void ensure_datetime_api() {
    // PyDateTimeAPI is a per-translation-unit static in CPython's header.
    if (!PyDateTimeAPI) {
        PyDateTime_IMPORT;
        if (!PyDateTimeAPI) throw error_already_set();
    }
}

inline long long timedelta_microseconds(handle delta) {
    // Poco::Timespan is 64-bit microseconds: about +-292000 years. Python's
    // timedelta reaches further; such values are refused rather than wrapped.
    // The count is made exactly with Python's integers, then narrowed checked.
    object us = delta.attr("__floordiv__")(
        module_::import("datetime").attr("timedelta")(arg("microseconds") = 1));
    const long long value = PyLong_AsLongLong(us.ptr());
    if (value == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        throw value_error("timedelta out of range for Poco::Timespan");
    }
    return value;
}

inline object microseconds_to_timedelta(long long us) {
    ensure_datetime_api();
    // Floor division keeps seconds and microseconds non-negative, as
    // timedelta's normal form requires.
    long long days = us / 86400000000LL;
    long long rest = us % 86400000000LL;
    if (rest < 0) {
        rest += 86400000000LL;
        --days;
    }
    PyObject* obj = PyDelta_FromDSU(static_cast<int>(days), static_cast<int>(rest / 1000000),
                                    static_cast<int>(rest % 1000000));
    if (!obj) throw error_already_set();
    return reinterpret_steal<object>(obj);
}

template <>
struct type_caster<Poco::Timespan> {
    PYBIND11_TYPE_CASTER(Poco::Timespan, const_name("datetime.timedelta"));

    bool load(handle src, bool) {
        ensure_datetime_api();
        if (!src || !PyDelta_Check(src.ptr())) return false;
        value = Poco::Timespan(timedelta_microseconds(src));
        return true;
    }

    static handle cast(const Poco::Timespan& span, return_value_policy, handle) {
        return microseconds_to_timedelta(span.totalMicroseconds()).release();
    }
};

template <>
struct type_caster<Poco::Timestamp> {
    PYBIND11_TYPE_CASTER(Poco::Timestamp, const_name("datetime.datetime"));

    bool load(handle src, bool) {
        ensure_datetime_api();
        if (!src || !PyDateTime_Check(src.ptr())) return false;
        object offset = src.attr("utcoffset")();
        if (offset.is_none()) {
            throw value_error(
                "naive datetime: give it a tzinfo (e.g. datetime.timezone.utc) so the "
                "instant is unambiguous");
        }
        object epoch =
            module_::import("datetime")
                .attr("datetime")(
                    1970, 1, 1,
                    arg("tzinfo") = module_::import("datetime").attr("timezone").attr("utc"));
        value = Poco::Timestamp(timedelta_microseconds(src - epoch));
        return true;
    }

    static handle cast(const Poco::Timestamp& ts, return_value_policy, handle) {
        object dt = module_::import("datetime");
        object epoch =
            dt.attr("datetime")(1970, 1, 1, arg("tzinfo") = dt.attr("timezone").attr("utc"));
        return (epoch + microseconds_to_timedelta(ts.epochMicroseconds())).release();
    }
};

}  // namespace pybind11::detail
