#include "init.h"

namespace pocosmtp {

void init_header(pybind11::module_& m) { (void)m; }

}  // namespace pocosmtp
