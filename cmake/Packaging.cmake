# Installation (cmake --install) and the Debian package (cpack -G DEB, or the `package` target).
#
# The package's layout: programs in /usr/bin, example configs in /etc/archer, schemas in
# /usr/share/archer/schemas, units in /usr/lib/systemd/system, docs in /usr/share/doc/archer-edge.
# `cmake --install build --prefix /usr` lays out the same; another prefix (default /usr/local) gives
# <prefix>/bin, <prefix>/etc/archer, ... The unit files and example configs in the source tree name
# the package's paths literally, so they read as installed; at install time they are rewritten for
# the prefix (cmake/InstallLayout.cmake).
#
# cmake --install overwrites what it installs. Everything it puts in /etc/archer is an example
# (*.example.toml, devsim-example.env) that operators copy, never edit in place; the package marks
# them as conffiles so dpkg keeps an edited copy anyway.

# The install-time half: cmake/InstallLayout.cmake, given this build's relative folders.
install(CODE "set(ARCHER_INSTALL_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
set(ARCHER_INSTALL_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
set(ARCHER_INSTALL_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
set(ARCHER_LAYOUT_DIR \"${CMAKE_BINARY_DIR}/install-layout\")")
install(SCRIPT cmake/InstallLayout.cmake)
function(archer_install_layout_file source kind subdir)
  install(CODE "archer_install_layout_file(\"${CMAKE_SOURCE_DIR}/${source}\" ${kind} \"${subdir}\")")
endfunction()

# Example configs, and the mosquitto config an operator copies into /etc/mosquitto/conf.d with the
# ACL it names (copied to /etc/mosquitto/acl).
# quickstart.toml is not installed: it points into a build tree.
set(archer_example_configs gateway.example.toml devsim.example.toml devsim-example.env)
foreach(name IN LISTS archer_example_configs)
  archer_install_layout_file(config/${name} config "")
endforeach()
archer_install_layout_file(config/mosquitto/gateway.conf data mosquitto)
archer_install_layout_file(config/mosquitto/acl data mosquitto)

# systemd units, and the drop-in for Debian's mosquitto.service.
foreach(unit archer-bridge@.service archer-devsim@.service archer-devkafka.service)
  archer_install_layout_file(systemd/${unit} unit "")
endforeach()
archer_install_layout_file(systemd/mosquitto.service.d/archer.conf unit mosquitto.service.d)

# Docs, keeping the tree's relative links between them.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs FILES_MATCHING PATTERN "*.md")
install(FILES systemd/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/systemd)

# The Debian package. Dependencies come from dpkg-shlibdeps on the installed programs.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME archer-edge)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Archer Edge")
set(CPACK_PACKAGE_CONTACT "Archer Edge maintainers <archer-edge@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "IoT edge gateway: MQTT telemetry to Kafka, Kafka commands to MQTT devices")
set(CPACK_PACKAGE_DESCRIPTION
    "archer-bridge ingests MQTT telemetry validated against FlatBuffers schemas into Kafka and carries\n\
commands from a Kafka command log to devices, recording every exchange in a transaction log.\n\
Also archer-ctl (operator CLI), archer-devsim (simulated devices) and archer-devkafka (a\n\
development Kafka broker), systemd units and example configs.")
# The package is built for /usr whatever this build's CMAKE_INSTALL_PREFIX: cpack installs with
# DESTDIR set to its staging folder and CMAKE_INSTALL_PREFIX=/usr, so /etc/archer lands in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS mosquitto)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(conffiles "")
foreach(name IN LISTS archer_example_configs)
  string(APPEND conffiles "/etc/archer/${name}\n")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "${conffiles}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/debian/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
    ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
    ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)

include(CPack)
