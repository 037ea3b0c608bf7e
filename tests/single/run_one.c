/* Runs one Check suite alone, for working on a module in isolation:
 *   cc -std=c11 -D_GNU_SOURCE -Isrc -Itests -DSUITE=quant_suite tests/single/run_one.c \
 *      tests/test_quant.c src/quant.c $(pkg-config --cflags --libs check) -lm -lpthread -ldl
 */
#include <check.h>
#include <stdlib.h>

Suite *SUITE(void);

int main(void)
{
    SRunner *sr = srunner_create(SUITE());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
