/* cli_chat — the `joule chat` command, and the chat prompt of `joule run --chat`. */
#ifndef JOULE_CLI_CHAT_H
#define JOULE_CLI_CHAT_H

#include <stddef.h>
#include <stdint.h>

struct tokenizer;

/* joule chat: argv[0] is "chat". Returns the exit status. */
int cli_chat(int argc, char **argv);

/* The token ids of one user message (len bytes) wrapped in the chat template, ready for
 * generation: template_name NULL means the model's own (tokenizer.chat_template), a notice
 * goes to stderr when none is found and chatml is used. *ids is malloc'd. */
int cli_chat_prompt(const struct tokenizer *tok, const char *template_name, const char *text,
                    size_t len, int32_t **ids, size_t *n_ids, char *err, size_t errlen);

#endif
