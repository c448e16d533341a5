# Builds the Go core as a c-shared library with `go build`. The output is
# rebuilt when any Go file, go.mod or go.sum changes.

find_program(GO_EXECUTABLE go PATHS /usr/local/go/bin ENV GOROOT PATH_SUFFIXES bin REQUIRED)

function(add_go_c_shared target output package)
  file(GLOB_RECURSE go_sources CONFIGURE_DEPENDS
       "${CMAKE_SOURCE_DIR}/*.go" "${CMAKE_SOURCE_DIR}/engine/*.h"
       "${CMAKE_SOURCE_DIR}/engine/*.c")
  list(FILTER go_sources EXCLUDE REGEX "_test\\.go$|/build/|/var/")
  set(go_mod "${CMAKE_SOURCE_DIR}/go.mod")
  if(EXISTS "${CMAKE_SOURCE_DIR}/go.sum")
    list(APPEND go_mod "${CMAKE_SOURCE_DIR}/go.sum")
  endif()
  add_custom_command(
    OUTPUT "${output}"
    COMMAND ${CMAKE_COMMAND} -E env CGO_ENABLED=1
            ${GO_EXECUTABLE} build -trimpath -buildmode=c-shared
            "-ldflags=-extldflags=-Wl,--version-script=${CMAKE_SOURCE_DIR}/engine/exports.map"
            -o "${output}" "${package}"
    WORKING_DIRECTORY "${CMAKE_SOURCE_DIR}"
    DEPENDS ${go_sources} ${go_mod} "${CMAKE_SOURCE_DIR}/engine/exports.map"
    COMMENT "go build -buildmode=c-shared ${package}"
    VERBATIM)
  add_custom_target(${target} DEPENDS "${output}")
endfunction()
