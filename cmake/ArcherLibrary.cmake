# One small helper per kind of target, so every component declares itself the same way:
#   archer_library(NAME core SRCS ... DEPS ...)  ->  target archer_core, alias archer::core
#   archer_program(NAME archer-bridge SRCS ... DEPS ...)
# Both apply the project's warning set; ARCHER_WERROR and ARCHER_SANITIZE apply everywhere.

set(ARCHER_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
                    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough)
if(ARCHER_WERROR)
  list(APPEND ARCHER_WARNINGS -Werror)
endif()

# ARCHER_SANITIZE: OFF, ON or address (AddressSanitizer + UBSan), thread (ThreadSanitizer).
string(TOLOWER "${ARCHER_SANITIZE}" ARCHER_SANITIZER)
if(ARCHER_SANITIZER STREQUAL "thread")
  list(APPEND ARCHER_WARNINGS -Wno-maybe-uninitialized -Wno-tsan)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(ARCHER_SANITIZER STREQUAL "address" OR ARCHER_SANITIZE)
  set(ARCHER_SANITIZER "address")
  # GCC 12's flow analysis reports false maybe-uninitialized warnings in sanitized standard headers.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    list(APPEND ARCHER_WARNINGS -Wno-maybe-uninitialized)
  endif()
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
else()
  set(ARCHER_SANITIZER "")
endif()

function(archer_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target archer_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(archer::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_options(${target} PRIVATE ${ARCHER_WARNINGS})
endfunction()

function(archer_program)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  target_compile_options(${ARG_NAME} PRIVATE ${ARCHER_WARNINGS})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endfunction()
