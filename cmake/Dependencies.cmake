# Every dependency comes from a Debian package (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(PahoMqttCpp REQUIRED)
find_package(FlatBuffers REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(fmt REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka rdkafka++)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
find_program(FLATC flatc REQUIRED)
if(ARCHER_TESTS)
  find_package(GTest REQUIRED)
endif()

# Third-party headers are system headers: our warning set applies to our code only.
add_library(archer_kafka INTERFACE)
target_link_libraries(archer_kafka INTERFACE PkgConfig::RDKAFKA)
add_library(archer::kafka ALIAS archer_kafka)

add_library(archer_mqtt INTERFACE)
target_link_libraries(archer_mqtt INTERFACE PahoMqttCpp::paho-mqttpp3)
add_library(archer::mqtt ALIAS archer_mqtt)
