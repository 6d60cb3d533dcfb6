# Builds (or reuses from Conan's cache) the pinned Poco and points the project
# at Conan's toolchain. Included before project(), because a toolchain file is
# only honoured by the first project() call.
#
# Why not the scikit-build-core-conan backend: it silently drops some -C
# settings and breaks editable rebuilds; a dozen lines of CMake do the same.

find_program(POCOSMTP_CONAN conan REQUIRED)

cmake_path(GET CMAKE_CURRENT_LIST_DIR PARENT_PATH _root)
set(_recipes "${_root}/conan")
set(_out "${CMAKE_BINARY_DIR}/conan")
if(DEFINED ENV{POCOSMTP_DOWNLOAD_CACHE})
  set(_downloads "$ENV{POCOSMTP_DOWNLOAD_CACHE}")
else()
  set(_downloads "$ENV{HOME}/.cache/pocosmtp/conan-downloads")
endif()

function(_pocosmtp_conan)
  execute_process(
    COMMAND "${POCOSMTP_CONAN}" ${ARGN}
    RESULT_VARIABLE _rc
    COMMAND_ECHO STDOUT)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "conan ${ARGV0} failed (exit ${_rc}); see its output above")
  endif()
endfunction()

# Offline the archive must already be in the download cache; the script says
# clearly what is missing. Online, Conan falls back to Poco's own URL.
set(_archive "${_downloads}/s/7738a4c880f08e89318fc53915f86be5a0e70f14eb1e7f0e1767c8781c40d794")
if(NOT EXISTS "${_archive}")
  execute_process(
    COMMAND bash "${_root}/scripts/fetch-poco-source.sh"
    RESULT_VARIABLE _fetched)
  if(NOT _fetched EQUAL 0)
    message(WARNING "Poco's source archive is not cached; Conan will try to download it")
  endif()
endif()

_pocosmtp_conan(profile detect --exist-ok)
# The project's recipe index is the only remote this build asks: ConanCenter
# is neither needed nor reachable, and no binaries are ever fetched.
_pocosmtp_conan(remote add --force --type local-recipes-index
  pocosmtp-recipes "${_recipes}")
_pocosmtp_conan(install "${_root}/conanfile.txt"
  --remote pocosmtp-recipes
  --build missing
  --output-folder "${_out}"
  --settings build_type=Release
  --settings compiler.cppstd=17
  --core-conf "core.sources:download_cache=${_downloads}"
  --core-conf core:non_interactive=True
  # No CMakeUserPresets.json in the source tree: it is per-machine state that
  # every configure would rewrite.
  --conf "tools.cmake.cmaketoolchain:user_presets=")

set(CMAKE_TOOLCHAIN_FILE "${_out}/conan_toolchain.cmake" CACHE FILEPATH "" FORCE)
