/**
 * @file
 * @brief weft — version macros. MIT licence, see LICENSE.
 *
 * These are the version of the headers compiled against; weft_version() and
 * weft_version_hex() give the version of the library linked.
 */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

/** @brief Major version: incompatible API changes. */
#define WEFT_VERSION_MAJOR 0
/** @brief Minor version: compatible additions. */
#define WEFT_VERSION_MINOR 1
/** @brief Patch version: fixes. */
#define WEFT_VERSION_PATCH 0
/** @brief The version as one number: (MAJOR << 16) | (MINOR << 8) | PATCH. */
#define WEFT_VERSION_HEX \
  ((WEFT_VERSION_MAJOR << 16) | (WEFT_VERSION_MINOR << 8) | WEFT_VERSION_PATCH)
/** @brief The version as "MAJOR.MINOR.PATCH". */
#define WEFT_VERSION_STRING "0.1.0"

#endif /* WEFT_VERSION_H */
