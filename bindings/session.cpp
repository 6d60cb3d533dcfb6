#include "init.h"

namespace pocosmtp {

void init_session(pybind11::module_& m) { (void)m; }

}  // namespace pocosmtp
