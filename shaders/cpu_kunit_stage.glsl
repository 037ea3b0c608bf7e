// cpu_kunit_stage.glsl — sb_stage() of the K unit kernels (matvec_kunit, matmul_kunit).
// stages the super-block at byte offset B in sw[]: 16-byte texels, each word picked by
// selects and shifted into place. Written out (generated), not looped: a loop the compiler
// keeps would index T[] and sw[] per invocation, a loop over lanes on CPU implementations.
#define NT ((SBW + 3u) / 4u + 1u)
// raw word w0 + i: texel (o + i) / 4 from t0, component (o + i) % 4 (o in 0..3)
#define RAW(i)                                                                                     \
    ((o + ((i) & 3u)) < 4u ? sel4(T[(i) >> 2], o + ((i) & 3u))                                    \
                           : sel4(T[((i) >> 2) + 1u], o + ((i) & 3u) - 4u))
#define STG(i) sw[i] = (RAW(i) >> sh) | ((RAW((i) + 1u) << 1u) << (31u - sh));
void sb_stage(uint B)
{
    const uint w0 = B >> 2, sh = (B & 3u) * 8u, t0 = w0 >> 2, o = w0 & 3u;
    uvec4 T[NT];
#if 0 < (SBW_I + 3) / 4 + 1
    T[0] = texelFetch(wtex, int(t0 + 0u));
#endif
#if 1 < (SBW_I + 3) / 4 + 1
    T[1] = texelFetch(wtex, int(t0 + 1u));
#endif
#if 2 < (SBW_I + 3) / 4 + 1
    T[2] = texelFetch(wtex, int(t0 + 2u));
#endif
#if 3 < (SBW_I + 3) / 4 + 1
    T[3] = texelFetch(wtex, int(t0 + 3u));
#endif
#if 4 < (SBW_I + 3) / 4 + 1
    T[4] = texelFetch(wtex, int(t0 + 4u));
#endif
#if 5 < (SBW_I + 3) / 4 + 1
    T[5] = texelFetch(wtex, int(t0 + 5u));
#endif
#if 6 < (SBW_I + 3) / 4 + 1
    T[6] = texelFetch(wtex, int(t0 + 6u));
#endif
#if 7 < (SBW_I + 3) / 4 + 1
    T[7] = texelFetch(wtex, int(t0 + 7u));
#endif
#if 8 < (SBW_I + 3) / 4 + 1
    T[8] = texelFetch(wtex, int(t0 + 8u));
#endif
#if 9 < (SBW_I + 3) / 4 + 1
    T[9] = texelFetch(wtex, int(t0 + 9u));
#endif
#if 10 < (SBW_I + 3) / 4 + 1
    T[10] = texelFetch(wtex, int(t0 + 10u));
#endif
#if 11 < (SBW_I + 3) / 4 + 1
    T[11] = texelFetch(wtex, int(t0 + 11u));
#endif
#if 12 < (SBW_I + 3) / 4 + 1
    T[12] = texelFetch(wtex, int(t0 + 12u));
#endif
#if 13 < (SBW_I + 3) / 4 + 1
    T[13] = texelFetch(wtex, int(t0 + 13u));
#endif
#if 14 < (SBW_I + 3) / 4 + 1
    T[14] = texelFetch(wtex, int(t0 + 14u));
#endif
#if 0 < SBW_I
    STG(0u)
#endif
#if 1 < SBW_I
    STG(1u)
#endif
#if 2 < SBW_I
    STG(2u)
#endif
#if 3 < SBW_I
    STG(3u)
#endif
#if 4 < SBW_I
    STG(4u)
#endif
#if 5 < SBW_I
    STG(5u)
#endif
#if 6 < SBW_I
    STG(6u)
#endif
#if 7 < SBW_I
    STG(7u)
#endif
#if 8 < SBW_I
    STG(8u)
#endif
#if 9 < SBW_I
    STG(9u)
#endif
#if 10 < SBW_I
    STG(10u)
#endif
#if 11 < SBW_I
    STG(11u)
#endif
#if 12 < SBW_I
    STG(12u)
#endif
#if 13 < SBW_I
    STG(13u)
#endif
#if 14 < SBW_I
    STG(14u)
#endif
#if 15 < SBW_I
    STG(15u)
#endif
#if 16 < SBW_I
    STG(16u)
#endif
#if 17 < SBW_I
    STG(17u)
#endif
#if 18 < SBW_I
    STG(18u)
#endif
#if 19 < SBW_I
    STG(19u)
#endif
#if 20 < SBW_I
    STG(20u)
#endif
#if 21 < SBW_I
    STG(21u)
#endif
#if 22 < SBW_I
    STG(22u)
#endif
#if 23 < SBW_I
    STG(23u)
#endif
#if 24 < SBW_I
    STG(24u)
#endif
#if 25 < SBW_I
    STG(25u)
#endif
#if 26 < SBW_I
    STG(26u)
#endif
#if 27 < SBW_I
    STG(27u)
#endif
#if 28 < SBW_I
    STG(28u)
#endif
#if 29 < SBW_I
    STG(29u)
#endif
#if 30 < SBW_I
    STG(30u)
#endif
#if 31 < SBW_I
    STG(31u)
#endif
#if 32 < SBW_I
    STG(32u)
#endif
#if 33 < SBW_I
    STG(33u)
#endif
#if 34 < SBW_I
    STG(34u)
#endif
#if 35 < SBW_I
    STG(35u)
#endif
#if 36 < SBW_I
    STG(36u)
#endif
#if 37 < SBW_I
    STG(37u)
#endif
#if 38 < SBW_I
    STG(38u)
#endif
#if 39 < SBW_I
    STG(39u)
#endif
#if 40 < SBW_I
    STG(40u)
#endif
#if 41 < SBW_I
    STG(41u)
#endif
#if 42 < SBW_I
    STG(42u)
#endif
#if 43 < SBW_I
    STG(43u)
#endif
#if 44 < SBW_I
    STG(44u)
#endif
#if 45 < SBW_I
    STG(45u)
#endif
#if 46 < SBW_I
    STG(46u)
#endif
#if 47 < SBW_I
    STG(47u)
#endif
#if 48 < SBW_I
    STG(48u)
#endif
#if 49 < SBW_I
    STG(49u)
#endif
#if 50 < SBW_I
    STG(50u)
#endif
#if 51 < SBW_I
    STG(51u)
#endif
#if 52 < SBW_I
    STG(52u)
#endif
#if 53 < SBW_I
    STG(53u)
#endif
}

