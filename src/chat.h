/* chat — chat templates: a conversation (system / user / assistant messages) rendered as the
 * prompt text an instruct model was trained on, then tokenized with its special tokens.
 *
 * No Jinja interpreter: the common template families are built in, each written to give
 * exactly what its published Hugging Face template (tokenizer_config.json chat_template,
 * rendered as transformers does, trim_blocks on) gives for plain messages:
 *   llama2   Llama 2 chat:  <s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST] A </s><s>[INST] U2 [/INST]
 *            (messages stripped; the system text goes into the first user message)
 *   llama3   Llama 3 instruct: <|begin_of_text|><|start_header_id|>ROLE<|end_header_id|>\n\n
 *            TEXT<|eot_id|>... then <|start_header_id|>assistant<|end_header_id|>\n\n
 *            (the 3.1+ "Cutting Knowledge Date" preamble and tool calls are not produced)
 *   chatml   ChatML / Qwen: <|im_start|>ROLE\nTEXT<|im_end|>\n ... <|im_start|>assistant\n
 *            (no default system message is added; Qwen3 thinking tags are not produced)
 *   phi3     Phi-3: <|ROLE|>\nTEXT<|end|>\n ... <|assistant|>\n (EOS when not prompting)
 *   mistral  Mistral Instruct v0.2: <s>[INST] U [/INST]A</s>[INST] U2 [/INST]
 *            (a system message is put before the first user text, then a blank line)
 *   gemma    Gemma: <bos><start_of_turn>user\nU<end_of_turn>\n<start_of_turn>model\n...
 *            (assistant is "model"; texts trimmed; system text + blank line before the
 *            first user text, as Gemma 3 does)
 *   zephyr   Zephyr: <|ROLE|>\nTEXT</s>\n ... <|assistant|>\n
 * BOS / EOS in a template are the vocabulary's own token texts. A template is recognised from
 * tokenizer.chat_template by distinctive substrings (chat_tmpl_detect) or named by the user.
 * Roles other than system / user / assistant are rendered as given where the format allows
 * (chatml, llama3, zephyr, phi3) and treated as user text elsewhere. */
#ifndef JOULE_CHAT_H
#define JOULE_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tokenizer;

enum chat_tmpl {
    CHAT_LLAMA2,
    CHAT_LLAMA3,
    CHAT_CHATML,
    CHAT_PHI3,
    CHAT_MISTRAL,
    CHAT_GEMMA,
    CHAT_ZEPHYR,
    CHAT_N_TMPL
};

struct chat_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
};

/* "llama2", "llama3", "chatml", "phi3", "mistral", "gemma", "zephyr" */
const char *chat_tmpl_name(enum chat_tmpl t);
/* The names above, plus aliases (qwen, llama-2, llama-3, phi-3, ...); -1 when unknown. */
int chat_tmpl_from_name(const char *name);
/* A comma-separated list of the names, for help and error messages. */
const char *chat_tmpl_list(void);
/* The family of a Jinja chat template, by its distinctive substrings; -1 when none fits. */
int chat_tmpl_detect(const char *jinja);

/* Renders msgs (n of them); add_generation_prompt ends with the opening of an assistant turn.
 * bos / eos: the vocabulary's BOS / EOS texts ("" when none). Returns a malloc'd string, or
 * NULL when out of memory. */
char *chat_render(enum chat_tmpl t, const struct chat_msg *msgs, size_t n,
                  bool add_generation_prompt, const char *bos, const char *eos);

/* The template for a vocabulary: the one named (name non-NULL), else the one recognised from
 * its tokenizer.chat_template. Without a chat_template, chatml is used and *note says so;
 * an unrecognised one is an error that suggests --chat-template. */
int chat_tmpl_for(const struct tokenizer *tok, const char *name, enum chat_tmpl *out,
                  const char **note, char *err, size_t errlen);

/* Renders and tokenizes (special tokens parsed in the template's own text only, never in a
 * message or role name; BOS added only when the template does not
 * already start with it and the vocabulary adds one). *ids is malloc'd. */
int chat_encode(const struct tokenizer *tok, enum chat_tmpl t, const struct chat_msg *msgs,
                size_t n, bool add_generation_prompt, int32_t **ids, size_t *n_ids, char *err,
                size_t errlen);

#endif
