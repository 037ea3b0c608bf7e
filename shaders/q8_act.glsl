// q8_act.glsl — the int8 decode path's quantized activations (quantize_q8.comp writes them,
// matvec_q8.comp reads them at binding 5): per 32-element block, 8 words of signed bytes
// (element order, 4 per word) then the scale d's bits.
#define XQ_WORDS 9u
