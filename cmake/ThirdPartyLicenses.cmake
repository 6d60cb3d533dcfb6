# Licenses of the third-party code inside a pocosmtp wheel, installed into the
# wheel's .dist-info/licenses/ next to the project's own LICENSE (which
# scikit-build-core copies itself):
#   poco/     Poco is linked statically into the extension, so it always ships;
#   openssl/  auditwheel copies the system's libssl and libcrypto into the
#             repaired wheel (scripts/build-wheel.sh).
# Each file is searched for where Conan and the usual distributions put it; set
# -DPOCOSMTP_POCO_LICENSE=<file> or -DPOCOSMTP_OPENSSL_LICENSE=<file;file> to
# point elsewhere. scripts/build-wheel.sh fails if either is missing.

if(NOT DEFINED SKBUILD_METADATA_DIR)
  return()  # a plain CMake build (scripts/dev-build.sh) makes no wheel
endif()

# ---- Poco ----
# The project's Conan recipe copies LICENSE into <package>/licenses, three
# levels above Poco's CMake config folder; Debian's libpoco-dev has a copyright.
find_file(POCOSMTP_POCO_LICENSE
  NAMES LICENSE copyright
  PATHS "${Poco_DIR}/../../../licenses" /usr/share/doc/libpoco-dev
  NO_DEFAULT_PATH
  DOC "Poco's license text, shipped in the wheel")
if(POCOSMTP_POCO_LICENSE)
  install(FILES "${POCOSMTP_POCO_LICENSE}"
    DESTINATION "${SKBUILD_METADATA_DIR}/licenses/poco" RENAME LICENSE)
else()
  message(WARNING "Poco's license file not found; set POCOSMTP_POCO_LICENSE")
endif()

# ---- OpenSSL ----
# OpenSSL 3 is under Apache-2.0. Debian and Ubuntu describe it in the
# libssl3 (libssl3t64 since 2024) copyright file, which refers to the full
# license text in common-licenses; RPM distributions install OpenSSL's own
# LICENSE.txt. The prefix is the one OpenSSL's headers were found under.
if(NOT DEFINED POCOSMTP_OPENSSL_LICENSE)
  cmake_path(GET OPENSSL_INCLUDE_DIR PARENT_PATH _ssl_prefix)
  set(_found "")
  foreach(_candidate
      "share/doc/libssl3/copyright;share/common-licenses/Apache-2.0"
      "share/doc/libssl3t64/copyright;share/common-licenses/Apache-2.0"
      "share/licenses/openssl-libs/LICENSE.txt"
      "share/licenses/openssl/LICENSE.txt")
    set(_files "")
    foreach(_file IN LISTS _candidate)
      if(EXISTS "${_ssl_prefix}/${_file}")
        list(APPEND _files "${_ssl_prefix}/${_file}")
      endif()
    endforeach()
    list(LENGTH _candidate _wanted)
    list(LENGTH _files _have)
    if(_have EQUAL _wanted)
      set(_found "${_files}")
      break()
    endif()
  endforeach()
  set(POCOSMTP_OPENSSL_LICENSE "${_found}")
endif()
if(POCOSMTP_OPENSSL_LICENSE)
  install(FILES ${POCOSMTP_OPENSSL_LICENSE}
    DESTINATION "${SKBUILD_METADATA_DIR}/licenses/openssl")
else()
  message(WARNING "OpenSSL's license files not found; set POCOSMTP_OPENSSL_LICENSE")
endif()
