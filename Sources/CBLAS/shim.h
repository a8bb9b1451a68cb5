// CBLAS from Debian's libopenblas-dev (cblas.h also declares openblas_set_num_threads).
#include <cblas.h>
