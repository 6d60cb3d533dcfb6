#include "init.h"

namespace pocosmtp {

void init_message(pybind11::module_& m) { (void)m; }

}  // namespace pocosmtp
