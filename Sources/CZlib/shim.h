// zlib from Debian's zlib1g-dev. deflateInit2/inflateInit2 are macros Swift cannot call, so they are wrapped here.
#include <zlib.h>

/// Starts a deflate stream that writes the gzip format (RFC 1952) rather than raw zlib.
static inline int czlib_deflate_init_gzip(z_streamp stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

/// Starts an inflate stream that accepts only the gzip format.
static inline int czlib_inflate_init_gzip(z_streamp stream) {
    return inflateInit2(stream, 15 + 16);
}
