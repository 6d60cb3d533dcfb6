// Keeps Python from changing a header or message while Poco works on it with
// the GIL released. During MessageHeader/MailMessage read() and write(),
// Python code still runs: other threads, and the stream callbacks themselves
// (a sink's write() could add a part while Poco walks the part list). Such a
// change would be a data race in C++, so it raises RuntimeError instead.
//
// Use: build an InUse with the GIL held before releasing it around the Poco
// call; mutating bindings wrap their function in changes(), getters of
// objects that read() fills in looks(). All state is guarded by the GIL.
#pragma once

#include <Poco/Net/MailMessage.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/PartSource.h>
#include <pybind11/pybind11.h>

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pocosmtp {

enum class Use { writing, reading };

namespace detail {

inline std::unordered_map<const void*, Use>& in_use() {
    static std::unordered_map<const void*, Use> table;
    return table;
}

[[noreturn]] inline void raise_in_use(Use use, const char* what) {
    const std::string message = std::string("cannot ") + what + " while it is being " +
                                (use == Use::reading ? "read" : "written") +
                                " (by another thread, or from one of that call's own callbacks)";
    PyErr_SetString(PyExc_RuntimeError, message.c_str());
    throw pybind11::error_already_set();
}

}  // namespace detail

// Raises if obj is being read or written.
inline void check_can_change(const void* obj) {
    const auto& table = detail::in_use();
    if (table.empty()) return;
    auto it = table.find(obj);
    if (it != table.end()) detail::raise_in_use(it->second, "change this object");
}

// Raises if obj is being filled in by read().
inline void check_can_look(const void* obj) {
    const auto& table = detail::in_use();
    if (table.empty()) return;
    auto it = table.find(obj);
    if (it != table.end() && it->second == Use::reading) {
        detail::raise_in_use(it->second, "look at this object");
    }
}

// Marks objects as in use by Poco for its lifetime; raises (marking nothing)
// if one of them already is.
class InUse {
public:
    InUse(std::vector<const void*> objects, Use use) : objects_(std::move(objects)) {
        auto& table = detail::in_use();
        for (const void* obj : objects_) {
            auto it = table.find(obj);
            if (it != table.end()) detail::raise_in_use(it->second, "use this object");
        }
        for (const void* obj : objects_) table.emplace(obj, use);
    }

    ~InUse() {
        auto& table = detail::in_use();
        for (const void* obj : objects_) table.erase(obj);
    }

    InUse(const InUse&) = delete;
    InUse& operator=(const InUse&) = delete;

private:
    std::vector<const void*> objects_;
};

// The objects MailMessage::write() walks: the message, and each part's source
// and extra header fields.
inline std::vector<const void*> message_objects(const Poco::Net::MailMessage& message) {
    std::vector<const void*> objects{static_cast<const Poco::Net::NameValueCollection*>(&message)};
    for (const auto& part : message.parts()) {
        objects.push_back(part.pSource);
        objects.push_back(
            static_cast<const Poco::Net::NameValueCollection*>(&part.pSource->headers()));
    }
    return objects;
}

// A binding for a mutating member function that first checks the object.
template <typename Base, typename Class, typename Ret, typename... Args>
auto changes(Ret (Class::*fn)(Args...)) {
    return [fn](Class& self, Args... args) -> Ret {
        check_can_change(static_cast<const Base*>(&self));
        return (self.*fn)(std::forward<Args>(args)...);
    };
}

// A binding for a const member function that first checks the object.
template <typename Base, typename Class, typename Ret, typename... Args>
auto looks(Ret (Class::*fn)(Args...) const) {
    return [fn](const Class& self, Args... args) -> Ret {
        check_can_look(static_cast<const Base*>(&self));
        return (self.*fn)(std::forward<Args>(args)...);
    };
}

}  // namespace pocosmtp
