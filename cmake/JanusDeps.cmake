# Third-party dependencies, all from Debian packages (see .ci/run for the package list).
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
if(JANUS_TESTS)
  find_package(GTest REQUIRED)
endif()
# Images (vision/, train/ plots, the shapes world): OpenCV for codecs and drawing, stb for GIF.
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
pkg_check_modules(STB REQUIRED IMPORTED_TARGET stb)
