// libjpeg-turbo's TurboJPEG API: one call decodes a whole JPEG from memory,
// which is all `ddp prepare images` needs (no streaming, no libjpeg setjmp).
#include <turbojpeg.h>
