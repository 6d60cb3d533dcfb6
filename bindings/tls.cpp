#include "init.h"

namespace pocosmtp {

void init_tls(pybind11::module_& m) { (void)m; }

}  // namespace pocosmtp
