// XXH3, from Debian's libxxhash-dev: DIGEST and SET/DELEX IFDEQ/IFDNE hash values with XXH3_64bits (seed 0), as
// Redis 8.4 does.
#include <xxhash.h>
