# cmake -DINPUT=file -DOUTPUT=header.h -DNAME=kIdentifier -P EmbedText.cmake
# Writes a header that holds INPUT's bytes as `inline constexpr std::string_view NAME`, a raw string
# literal, so that a page kept as a real file in the source tree is served from the binary.
foreach(required INPUT OUTPUT NAME)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "EmbedText.cmake: -D${required}= is required")
  endif()
endforeach()
file(READ "${INPUT}" content)
# The literal ends at the first )archer_embed" in the text: refuse a file that contains one.
string(FIND "${content}" ")archer_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT}: contains )archer_embed\" and cannot be embedded as a raw string literal")
endif()
set(header "// Generated from ${INPUT} by cmake/EmbedText.cmake: edit that file, not this one.
#pragma once
#include <string_view>

inline constexpr std::string_view ${NAME} = R\"archer_embed(${content})archer_embed\";
")
# Rewrite only on change, so that what includes it is not rebuilt for nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" previous)
  if(previous STREQUAL header)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${header}")
