// The C API of Debian's libleveldb-dev; everything the Swift wrapper needs is in c.h.
#include <leveldb/c.h>
