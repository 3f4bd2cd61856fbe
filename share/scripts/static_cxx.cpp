// One C++ translation unit for the static bundle (meson -Dstatic_bundle=true): with it in the link,
// meson links helua with the C++ driver, which honours -static-libstdc++ (see the root meson.build).
namespace helua_static_bundle { int cxx_linker = 1; }
