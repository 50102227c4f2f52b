/* Prepared mixtures: tl_mixture_assign split in two, so that one model is
 * typed under many mixtures (tailor fit plans every catalog shape at every
 * mixture of the ladder) while its tensors are classified and ordered once.
 * tl_mixture_assign is exactly tl__mixture_prepare then tl__mixture_run. */
#ifndef TL_MODEL_MIXTURE_INT_H
#define TL_MODEL_MIXTURE_INT_H

#include "tailor/quant.h"

typedef struct tl__mixture_prep tl__mixture_prep;

/* Classifies and orders the n tensors (names and shapes only; src_type,
 * type and bytes are not read) and begins ctx. The names must outlive the
 * prepared mixture's use. TL_ENOMEM. */
tl_status tl__mixture_prepare(tl_mixture_ctx *ctx, const tl_mixture_tensor *tensors, size_t n,
                              tl__mixture_prep **out, tl_error *err);

/* tl_mixture_assign's typing for the tensors the mixture was prepared from
 * (the same array, src_type set): ctx as prepared, its counters reset. */
tl_status tl__mixture_run(const tl__mixture_prep *p, tl_ftype ftype, tl_mixture_ctx *ctx,
                          tl_mixture_tensor *tensors, tl_error *err);

void tl__mixture_prep_free(tl__mixture_prep *p);

/* A registry description (tl_model_desc_from_hparams) prepared once for
 * re-typing: tl__desc_mixer_apply types its tensors under ftype exactly as
 * tl_model_desc_from_hparams(&m->hp, ftype) would (types, bytes, ftype,
 * counts), on m or on any description with the same tensors and
 * hyperparameters. The tensor
 * names of the description it was made from must outlive the mixer. */
typedef struct tl__desc_mixer tl__desc_mixer;
tl_status tl__desc_mixer_new(const tl_model_desc *m, tl__desc_mixer **out, tl_error *err);
tl_status tl__desc_mixer_apply(tl__desc_mixer *x, tl_model_desc *m, tl_ftype ftype, tl_error *err);
void tl__desc_mixer_free(tl__desc_mixer *x);

/* tl_model_desc_from_hparams, also handing back the mixer it typed the
 * description with (to free with tl__desc_mixer_free, before the description). */
tl_status tl__model_desc_from_hparams_mixer(const tl_hparams *hp, tl_ftype ftype, tl_model_desc **out,
                                            tl__desc_mixer **mixer, tl_error *err);

#endif
