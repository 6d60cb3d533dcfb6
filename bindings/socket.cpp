#include "init.h"

namespace pocosmtp {

void init_socket(pybind11::module_& m) { (void)m; }

}  // namespace pocosmtp
