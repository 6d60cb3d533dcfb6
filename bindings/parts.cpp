#include "init.h"

namespace pocosmtp {

void init_parts(pybind11::module_& m) { (void)m; }

}  // namespace pocosmtp
