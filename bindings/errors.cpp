#include "init.h"

namespace pocosmtp {

void init_errors(pybind11::module_& m) { (void)m; }

}  // namespace pocosmtp
