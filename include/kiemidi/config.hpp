// Build configuration shared by every kiemidi header.
#ifndef KIEMIDI_CONFIG_HPP
#define KIEMIDI_CONFIG_HPP

// KIEMIDI_DECL marks what the headers promise: the library's non-inline functions and members.
// A shared libkiemidi (BUILD_SHARED_LIBS, which defines KIEMIDI_SHARED for the library and its
// users) is compiled with hidden visibility, so that only these are exported and the internals in
// src/ stay its own; ELF needs no import marking, so its users see the same declarations. A
// static libkiemidi marks nothing.
#if defined(KIEMIDI_SHARED) && (defined(__GNUC__) || defined(__clang__))
#define KIEMIDI_DECL __attribute__((visibility("default")))
#else
#define KIEMIDI_DECL
#endif

#endif
