/* Tests for the chat templates: each family renders one known conversation to the exact
 * string its published Hugging Face template gives, recognition from real template sources,
 * names, and tokenizing a rendered conversation with the shared models' vocabularies. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chat.h"
#include "gguf.h"
#include "testutil.h"
#include "tokenizer.h"

static const struct chat_msg convo[] = {
    {"system", "You are a helpful assistant."},
    {"user", "Hello"},
    {"assistant", "Hi there "},
    {"user", "Who are you?"},
};

/* Each family's rendering of convo, with the generation prompt, as its published template gives
 * it. */
static const struct {
    enum chat_tmpl t;
    const char *bos, *eos, *want;
} renders[] = {
    {CHAT_LLAMA2, "<s>", "</s>",
     "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello [/INST] "
     "Hi there </s><s>[INST] Who are you? [/INST]"},
    {CHAT_LLAMA3, "<|begin_of_text|>", "<|end_of_text|>",
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a "
     "helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
     "Hello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there"
     "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you?<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    {CHAT_CHATML, "", "<|im_end|>",
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
     "Hello<|im_end|>\n<|im_start|>assistant\nHi there <|im_end|>\n<|im_start|>"
     "user\nWho are you?<|im_end|>\n<|im_start|>assistant\n"},
    {CHAT_PHI3, "<s>", "<|endoftext|>",
     "<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nHello<|end|>\n"
     "<|assistant|>\nHi there <|end|>\n<|user|>\nWho are you?<|end|>\n"
     "<|assistant|>\n"},
    {CHAT_MISTRAL, "<s>", "</s>",
     "<s>[INST] You are a helpful assistant.\n\nHello [/INST]Hi there </s>[INST] Who "
     "are you? [/INST]"},
    {CHAT_GEMMA, "<bos>", "<eos>",
     "<bos><start_of_turn>user\nYou are a helpful assistant.\n\nHello<end_of_turn>\n"
     "<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are "
     "you?<end_of_turn>\n<start_of_turn>model\n"},
    {CHAT_ZEPHYR, "<s>", "</s>",
     "<|system|>\nYou are a helpful assistant.</s>\n<|user|>\nHello</s>\n"
     "<|assistant|>\nHi there </s>\n<|user|>\nWho are you?</s>\n<|assistant|>\n"},
};

/* renders[_i] (a loop test, one per family) */
START_TEST(test_render)
{
    enum chat_tmpl t = renders[_i].t;
    const char *want = renders[_i].want;
    char *got = chat_render(t, convo, 4, true, renders[_i].bos, renders[_i].eos);
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(!strcmp(got, want), "%s:\n  got  '%s'\n  want '%s'", chat_tmpl_name(t), got,
                  want);
    free(got);
}
END_TEST

START_TEST(test_single_and_empty)
{
    /* one user message, no system: the shape `joule run --chat` uses */
    char *s = chat_render(CHAT_LLAMA2, convo + 1, 1, true, "<s>", "</s>");
    ck_assert_str_eq(s, "<s>[INST] Hello [/INST]");
    free(s);
    s = chat_render(CHAT_GEMMA, convo + 1, 1, true, "<bos>", "<eos>");
    ck_assert_str_eq(s, "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n");
    free(s);
    /* without the generation prompt phi3's template ends with EOS */
    s = chat_render(CHAT_PHI3, convo + 1, 1, false, "<s>", "<|endoftext|>");
    ck_assert_str_eq(s, "<|user|>\nHello<|end|>\n<|endoftext|>");
    free(s);
    s = chat_render(CHAT_CHATML, NULL, 0, false, "", "");
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

/* the published templates (abridged only where marked) */
static const char *const tmpl_llama2 =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
    "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set "
    "system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 "
    "and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}"
    "{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' "
    "[/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + "
    "eos_token }}{% endif %}{% endfor %}";
static const char *const tmpl_llama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim "
    "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
static const char *const tmpl_mistral =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
    "message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ "
    "message['content'] + eos_token}}{% endif %}{% endfor %}";
static const char *const tmpl_phi3 =
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + "
    "message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + "
    "message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";
static const char *const tmpl_gemma =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set "
    "role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + "
    "role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if "
    "add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
static const char *const tmpl_zephyr =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
    "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' "
    "+ message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ "
    "'<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and "
    "add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
static const char *const tmpl_chatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' "
    "}}{% endif %}";

START_TEST(test_detect_and_names)
{
    ck_assert_int_eq(chat_tmpl_detect(tmpl_llama2), CHAT_LLAMA2);
    ck_assert_int_eq(chat_tmpl_detect(tmpl_llama3), CHAT_LLAMA3);
    ck_assert_int_eq(chat_tmpl_detect(tmpl_mistral), CHAT_MISTRAL);
    ck_assert_int_eq(chat_tmpl_detect(tmpl_phi3), CHAT_PHI3);
    ck_assert_int_eq(chat_tmpl_detect(tmpl_gemma), CHAT_GEMMA);
    ck_assert_int_eq(chat_tmpl_detect(tmpl_zephyr), CHAT_ZEPHYR);
    ck_assert_int_eq(chat_tmpl_detect(tmpl_chatml), CHAT_CHATML);
    ck_assert_int_eq(chat_tmpl_detect("{{ messages }}"), -1);
    ck_assert_int_eq(chat_tmpl_detect(NULL), -1);
    for (int i = 0; i < CHAT_N_TMPL; i++)
        ck_assert_int_eq(chat_tmpl_from_name(chat_tmpl_name((enum chat_tmpl)i)), i);
    ck_assert_int_eq(chat_tmpl_from_name("qwen"), CHAT_CHATML);
    ck_assert_int_eq(chat_tmpl_from_name("vicuna"), -1);
}
END_TEST

/* The template chat_tmpl_for picks for t by itself (no name given), which must succeed; its
 * note (NULL: none) in *note. */
static enum chat_tmpl tmpl_of(const struct tokenizer *t, const char **note)
{
    enum chat_tmpl tm;
    char err[512] = "";
    ck_assert_msg(chat_tmpl_for(t, NULL, &tm, note, err, sizeof err) == 0, "%s", err);
    return tm;
}

START_TEST(test_encode_tiny_qwen2)
{
    NEED_TOKENIZER(dir, t, "models/tiny-qwen2-F16.gguf");
    const char *note;
    enum chat_tmpl tm = tmpl_of(t, &note);
    ck_assert_int_eq(tm, CHAT_CHATML);
    ck_assert_ptr_null(note);
    int32_t im_start = tokenizer_find(t, "<|im_start|>", 12);
    int32_t im_end = tokenizer_find(t, "<|im_end|>", 10);
    ck_assert(im_start >= 0 && im_end >= 0);
    ck_assert(tokenizer_is_eog(t, im_end)); /* a reply stops there */
    int32_t *ids;
    size_t n;
    char err[512] = "";
    ck_assert_msg(chat_encode(t, tm, convo + 1, 1, true, &ids, &n, err, sizeof err) == 0, "%s",
                  err);
    /* <|im_start|> user \n Hello <|im_end|> \n <|im_start|> assistant \n: no BOS */
    ck_assert_int_eq(ids[0], im_start);
    size_t n_start = 0, n_end = 0;
    for (size_t i = 0; i < n; i++) {
        n_start += ids[i] == im_start;
        n_end += ids[i] == im_end;
    }
    ck_assert_uint_eq(n_start, 2);
    ck_assert_uint_eq(n_end, 1);
    free(ids);
    /* override by name, and a bad name */
    ck_assert(chat_tmpl_for(t, "zephyr", &tm, &note, err, sizeof err) == 0 && tm == CHAT_ZEPHYR);
    ck_assert(chat_tmpl_for(t, "nope", &tm, &note, err, sizeof err) != 0);
    ck_assert_msg(strstr(err, "nope") && strstr(err, "chatml"), "%s", err);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_encode_tiny_llama)
{
    NEED_TOKENIZER(dir, t, "models/tiny-llama-F32.gguf");
    const char *note;
    /* no template in the file: the fallback, with a note */
    ck_assert_int_eq(tmpl_of(t, &note), CHAT_CHATML);
    ck_assert_ptr_nonnull(note);
    int32_t *ids;
    size_t n;
    char err[512] = "";
    /* llama2 writes <s> itself: exactly one BOS */
    ck_assert(chat_encode(t, CHAT_LLAMA2, convo, 2, true, &ids, &n, err, sizeof err) == 0);
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_ne(ids[1], 1);
    free(ids);
    /* chatml does not: the vocabulary's BOS is added */
    ck_assert(chat_encode(t, CHAT_CHATML, convo, 2, true, &ids, &n, err, sizeof err) == 0);
    ck_assert_int_eq(ids[0], 1);
    free(ids);
    tokenizer_free(t);
}
END_TEST

START_TEST(test_extra_vocab_templates)
{
    const char *extra = getenv("JOULE_VOCAB_EXTRA");
    char path[1024];
    snprintf(path, sizeof path, "%s/llama-bpe.gguf", extra ? extra : "");
    if (!extra || !*extra || access(path, R_OK) != 0) {
        fprintf(stderr, "SKIP %s: JOULE_VOCAB_EXTRA/llama-bpe.gguf not found\n", __func__);
        return;
    }
    static const struct {
        const char *file;
        enum chat_tmpl want;
        const char *eot;
    } cases[] = {{"llama-bpe.gguf", CHAT_LLAMA3, "<|eot_id|>"},
                 {"qwen2.gguf", CHAT_CHATML, "<|im_end|>"}};
    for (size_t i = 0; i < 2; i++) {
        struct tokenizer *t = test_load_tokenizer_at(extra, cases[i].file);
        const char *note;
        enum chat_tmpl tm = tmpl_of(t, &note);
        ck_assert_int_eq(tm, cases[i].want);
        int32_t eot = tokenizer_find(t, cases[i].eot, strlen(cases[i].eot));
        ck_assert(tokenizer_is_eog(t, eot));
        char err[512] = "";
        int32_t *ids;
        size_t n;
        ck_assert(chat_encode(t, tm, convo, 4, true, &ids, &n, err, sizeof err) == 0);
        if (tm == CHAT_LLAMA3) {
            ck_assert_int_eq(ids[0], 128000); /* one BOS, from the template */
            ck_assert_int_ne(ids[1], 128000);
            ck_assert_int_eq(ids[1], 128006); /* <|start_header_id|> */
        }
        free(ids);
        tokenizer_free(t);
    }
}
END_TEST

/* ---- end to end: the joule binary (JOULE_BIN, set by build.sh) on the tiny models ---- */

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

START_TEST(test_cli_chat_scripted)
{
    NEED_SHARED(dir);
    if (!test_have_binary(__func__)) return;
    char args[1024];
    snprintf(args, sizeof args,
             "chat -m %s/models/tiny-qwen2-F16.gguf --device cpu -n 8 --show-prompt -sys 'Be "
             "brief.'",
             dir);
    struct test_proc r = test_run_input("Hello\n\nWho are you?\r\n", "%s", args);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.err, "chat template chatml"), "%s", r.err);
    /* two turns (the empty line is skipped), each prompt exactly the template's */
    ck_assert_int_eq(count(r.err, "--- reply ---"), 2);
    ck_assert_msg(strstr(r.err, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
                                "Hello<|im_end|>\n<|im_start|>assistant\n\n--- reply"),
                  "%s", r.err);
    ck_assert_msg(strstr(r.err, "<|im_end|>\n<|im_start|>user\nWho are you?<|im_end|>\n"
                                "<|im_start|>assistant\n\n--- reply"),
                  "%s", r.err);
    free(r.out);
    free(r.err);

    /* a named template, the SentencePiece model, and a prompt file */
    char pf[] = "/tmp/joule-chat-prompts-XXXXXX";
    int fd = mkstemp(pf);
    ck_assert(fd >= 0);
    ck_assert(write(fd, "Hi\n", 3) == 3);
    close(fd);
    snprintf(args, sizeof args,
             "chat -m %s/models/tiny-llama-Q8_0.gguf --device cpu -n 4 --show-prompt "
             "--chat-template llama2 --prompt-file %s",
             dir, pf);
    r = test_run_input("", "%s", args);
    unlink(pf);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    /* shown token by token: SentencePiece puts its space prefix on the text after <s> */
    ck_assert_msg(strstr(r.err, "<s> [INST] Hi [/INST]\n--- reply"), "%s", r.err);
    free(r.out);
    free(r.err);
}
END_TEST

/* Replies stop at an end-of-generation token: with a hot sampler on a random model, some
 * reply within a few turns ends before -n (deterministic for the seeds given). */
START_TEST(test_cli_chat_stops)
{
    NEED_SHARED(dir);
    if (!test_have_binary(__func__)) return;
    int early = 0, replies = 0;
    for (int seed = 1; seed <= 4 && !early; seed++) {
        char args[1024];
        snprintf(args, sizeof args,
                 "chat -m %s/models/tiny-qwen2-F16.gguf --device cpu -n 300 -c 2048 --temp 1.5 "
                 "--top-k 0 --top-p 1 --min-p 0 --seed %d",
                 dir, seed);
        struct test_proc r = test_run_input("Hi\nMore\nAgain\n", "%s", args);
        ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
        for (const char *p = r.err; (p = strstr(p, "reply ")); p++) {
            int n = atoi(p + 6);
            replies++;
            early += n < 300;
        }
        free(r.out);
        free(r.err);
    }
    ck_assert_int_gt(replies, 0);
    ck_assert_msg(early > 0, "no reply out of %d stopped at an end-of-generation token", replies);
}
END_TEST

START_TEST(test_cli_run_chat)
{
    NEED_SHARED(dir);
    if (!test_have_binary(__func__)) return;
    char args[1024];
    snprintf(args, sizeof args,
             "run -m %s/models/tiny-qwen2-F16.gguf --device cpu -n 4 --chat -p Hello", dir);
    struct test_proc r = test_run_input("", "%s", args);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    free(r.out);
    free(r.err);
    snprintf(args, sizeof args,
             "run -m %s/models/tiny-qwen2-F16.gguf --device cpu -n 4 --chat-template klingon -p "
             "Hello",
             dir);
    r = test_run_input("", "%s", args);
    ck_assert_int_eq(r.code, 2); /* a bad value: a usage error, before the model is read */
    ck_assert_msg(strstr(r.err, "unknown chat template 'klingon'"), "%s", r.err);
    free(r.out);
    free(r.err);
    r = test_run_input("", "chat -m /nonexistent.gguf --chat-template klingon");
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "unknown chat template 'klingon'"), "%s", r.err);
    free(r.out);
    free(r.err);
}
END_TEST

Suite *chat_suite(void)
{
    Suite *s = suite_create("chat");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_render, 0, sizeof renders / sizeof renders[0]);
    tcase_add_test(tc, test_single_and_empty);
    tcase_add_test(tc, test_detect_and_names);
    tcase_add_test(tc, test_encode_tiny_qwen2);
    tcase_add_test(tc, test_encode_tiny_llama);
    tcase_add_test(tc, test_extra_vocab_templates);
    tcase_add_test(tc, test_cli_chat_scripted);
    tcase_add_test(tc, test_cli_chat_stops);
    tcase_add_test(tc, test_cli_run_chat);
    suite_add_tcase(s, tc);
    return s;
}
