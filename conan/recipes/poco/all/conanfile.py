"""Poco built as the few static libraries pocosmtp links, nothing more.

ConanCenter's recipe builds every Poco component by default and pulls in its
bundled third parties as separate packages; this one keeps Poco's own CMake
build, switches off every module the project does not use (Poco otherwise
enables Data when it finds libpq or ODBC on the machine) and takes OpenSSL
from the system.
"""

import os

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, get, rmdir

# Poco modules this project links; the Util/XML/JSON trio comes along because
# NetSSL_OpenSSL's SSLManager reads its configuration through Util.
WANTED = ("FOUNDATION", "NET", "CRYPTO", "NETSSL", "UTIL", "XML", "JSON")

# Every other switch in Poco 1.14.2's top-level CMakeLists.txt, set explicitly
# so that what is installed on the build machine cannot change the result.
UNWANTED = (
    "ENCODINGS", "ENCODINGS_COMPILER", "MONGODB", "REDIS", "PROMETHEUS",
    "PDF", "ZIP", "SEVENZIP", "JWT", "CPPPARSER", "POCODOC", "PAGECOMPILER",
    "PAGECOMPILER_FILE2PAGE", "ACTIVERECORD", "ACTIVERECORD_COMPILER", "DATA",
    "DATA_SQLITE", "DATA_MYSQL", "DATA_POSTGRESQL", "DATA_ODBC", "DNSSD",
    "DNSSD_DEFAULT", "DNSSD_AVAHI", "DNSSD_BONJOUR", "APACHECONNECTOR",
    "NETSSL_WIN", "TESTS", "SAMPLES", "FUZZING", "TRACE",
)


class PocoRecipe(ConanFile):
    name = "poco"
    description = "Poco C++ libraries: the subset pocosmtp wraps"
    license = "BSL-1.0"
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False]}
    # Static and position independent: the libraries end up inside one
    # Python extension module.
    default_options = {"shared": False, "fPIC": True}

    def layout(self):
        cmake_layout(self, src_folder="src")

    def source(self):
        get(self, **self.conan_data["sources"][self.version], strip_root=True)

    def generate(self):
        tc = CMakeToolchain(self)
        for module in WANTED:
            tc.cache_variables[f"ENABLE_{module}"] = True
        for module in UNWANTED:
            tc.cache_variables[f"ENABLE_{module}"] = False
        tc.cache_variables["BUILD_SHARED_LIBS"] = bool(self.options.shared)
        tc.cache_variables["POCO_UNBUNDLED"] = False
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    def package_info(self):
        # Consumers use Poco's own installed PocoConfig.cmake, exactly as they
        # would with a system Poco; Conan only puts its folder on the path.
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.builddirs = [os.path.join("lib", "cmake")]
