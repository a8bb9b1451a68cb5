// libheif from Debian's libheif-dev (HEVC through libde265, AV1 through dav1d/aom).
#include <libheif/heif.h>
