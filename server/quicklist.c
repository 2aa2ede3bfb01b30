/* quicklist (in progress: issue 4). */
#include <stddef.h>
