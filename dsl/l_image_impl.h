/* l_image_impl.h - image userdata helpers shared by dsl/l_image.c and
 * dsl/l_voxel.c. */
#ifndef RKIN_L_IMAGE_IMPL_H
#define RKIN_L_IMAGE_IMPL_H

#include <lua.h>

#include "image/image.h"

/* The image of the rk.image userdata at idx; raises naming ctx otherwise. */
rkin_image *lrk_check_image(lua_State *L, int idx, const char *ctx);
/* Pushes a new rk.image holding a copy of src. */
void lrk_push_image_copy(lua_State *L, const rkin_image *src);
/* Pushes a new rk.image that takes over src's voxels (src is zeroed). */
void lrk_push_image_take(lua_State *L, rkin_image *src);
/* The mask "labels == label" (label 0 or nil: every labelled voxel) of
 * the label image at li on grid g, as collectable scratch pushed on the
 * stack; NULL (nothing pushed) when li is none or nil. */
unsigned char *lrk_check_mask(lua_State *L, int li, int lab, const char *ctx,
                              const rkin_grid *g);

#endif
