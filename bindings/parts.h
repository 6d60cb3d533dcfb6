// Shared by parts.cpp and message.cpp: taking a Python PartSource into C++
// ownership, exactly once.
#pragma once

#include <Poco/Net/PartHandler.h>
#include <Poco/Net/PartSource.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <typeinfo>

namespace pocosmtp {

// Moves a Python PartSource into a unique_ptr for Poco's addPart family,
// which deletes it later. The Python object is disowned (or, for a Python
// subclass, kept alive by the C++ object until Poco deletes it); handing the
// same source over twice, or one that Poco already owns, raises ValueError.
//
// A headers() object of the source that Python still holds would outlive the
// part; it is tied to new_owner (the receiving MailMessage) when one is
// given, and otherwise the hand-over is refused.
std::unique_ptr<Poco::Net::PartSource> take_part_source(
    pybind11::handle source, pybind11::handle new_owner = pybind11::handle());

// Records that owner (a MailMessage or MultipartSource, of type ownerType)
// now owns source, so that headers() views of Python-subclass sources, whose
// Python object outlives the C++ one, keep the owner alive. Call with the GIL
// held after each hand-over, and for the parts a MailMessage read created.
void adopted(Poco::Net::PartSource* source, const void* owner, const std::type_info& ownerType);

// What Python knows as PartHandler. Poco's PartHandler has a protected
// destructor, so pybind11 could not delete a handler made from Python through
// it; this base adds a public one. MailMessage.read takes it.
class BindablePartHandler : public Poco::Net::PartHandler {
public:
    ~BindablePartHandler() override = default;
};

}  // namespace pocosmtp
