# Runs at install time (cmake --install, cpack): installs a unit file or example config with the
# packaged paths it names (/usr/bin, /usr/share/archer, /usr/share/doc/archer-edge, /etc/archer)
# replaced by those of the prefix being installed to. For /usr, the package's prefix, the text is
# unchanged. Decided here and not at configure time so that `cmake --install --prefix` and cpack,
# which choose the prefix when they run, get files that name where things really are.

# GNUInstallDirs' rule for the configuration folder: /usr keeps it in /etc, /opt/X in /etc/opt/X.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(ARCHER_INSTALL_SYSCONFDIR "/etc")
elseif(CMAKE_INSTALL_PREFIX MATCHES "^/opt/")
  set(ARCHER_INSTALL_SYSCONFDIR "/etc${CMAKE_INSTALL_PREFIX}")
else()
  set(ARCHER_INSTALL_SYSCONFDIR "${CMAKE_INSTALL_PREFIX}/etc")
endif()

# KIND is where the file goes: config (<sysconfdir>/archer), unit (<prefix>/lib/systemd/system), or
# data (<prefix>/share/archer); SUBDIR a folder below that ("" for none).
function(archer_install_layout_file source kind subdir)
  if(kind STREQUAL "config")
    set(destination "${ARCHER_INSTALL_SYSCONFDIR}/archer")
  elseif(kind STREQUAL "unit")
    set(destination "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
  elseif(kind STREQUAL "data")
    set(destination "${CMAKE_INSTALL_PREFIX}/${ARCHER_INSTALL_DATADIR}/archer")
  else()
    message(FATAL_ERROR "archer_install_layout_file: unknown kind ${kind}")
  endif()
  if(NOT subdir STREQUAL "")
    string(APPEND destination "/${subdir}")
  endif()
  file(READ "${source}" text)
  string(REPLACE "/usr/bin/" "${CMAKE_INSTALL_PREFIX}/${ARCHER_INSTALL_BINDIR}/" text "${text}")
  string(REPLACE "/usr/share/archer/" "${CMAKE_INSTALL_PREFIX}/${ARCHER_INSTALL_DATADIR}/archer/" text "${text}")
  string(REPLACE "/usr/share/doc/archer-edge/" "${CMAKE_INSTALL_PREFIX}/${ARCHER_INSTALL_DOCDIR}/" text "${text}")
  string(REPLACE "/etc/archer/" "${ARCHER_INSTALL_SYSCONFDIR}/archer/" text "${text}")
  # The copy keeps the source's name; one folder per destination keeps names apart.
  string(MAKE_C_IDENTIFIER "${destination}" folder)
  get_filename_component(name "${source}" NAME)
  set(copy "${ARCHER_LAYOUT_DIR}/${folder}/${name}")
  file(WRITE "${copy}" "${text}")
  file(INSTALL DESTINATION "${destination}" TYPE FILE FILES "${copy}")
endfunction()
