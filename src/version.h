/* version.h - the one place the version is written; the Makefile and the
 * rockspec read it from here. */
#ifndef ME_VERSION
#define ME_VERSION "0.1.0"
#endif
