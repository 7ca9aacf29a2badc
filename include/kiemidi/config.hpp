// Build configuration shared by every kiemidi header.
#ifndef KIEMIDI_CONFIG_HPP
#define KIEMIDI_CONFIG_HPP

// kiemidi is built as a compiled library; KIEMIDI_DECL marks its non-inline entry points.
// (A hook for a future shared-library build with symbol visibility.)
#define KIEMIDI_DECL

#endif
