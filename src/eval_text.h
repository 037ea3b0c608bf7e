/* eval_text — the text rules of the standard suites, each a faithful C rendering of the
 * Python it replaces (lm-evaluation-harness task utils; see
 * ../shared/suites-data/SCORING.md). Functions return malloc'd strings (NULL when out of
 * memory) unless they say otherwise.
 */
#ifndef JOULE_EVAL_TEXT_H
#define JOULE_EVAL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Python str.replace(from, to) */
char *text_replace(const char *s, const char *from, const char *to);
/* Python str.strip() (ASCII and Unicode whitespace) */
char *text_strip(const char *s);
/* Byte length of the whitespace character at s as Python's \s sees it, else 0. */
size_t text_space_len(const char *s);
/* len(re.split(r"\s+", s)) */
long text_count_words(const char *s);
/* Python len(s): Unicode characters (UTF-8 sequences; a stray byte counts as one). */
long text_count_chars(const char *s);

/* lm-eval wikitext detokenizer (wikitext/preprocess_wikitext.py). */
char *text_wikitext_detok(const char *page);
/* Splits a wiki.*.raw file into articles as EleutherAI/wikitext_document_level does.
 * Returns the count and a malloc'd array of malloc'd pages in *pages. */
int text_wikitext_articles(const char *raw, char ***pages);

/* lm-eval hellaswag preprocess(): strip, " [title]" -> ". ", drop [...], "  " -> " ". */
char *text_hellaswag(const char *s);

/* text.split(' ')[:-1] joined by ' ', and text.split(' ')[-1] */
char *text_but_last_word(const char *s);
char *text_last_word(const char *s);

/* GSM8K answer extraction. strict: first "#### (-?[0-9.,]+)"; flexible: last match of
 * "(-?[$0-9.,]{2,})|(-?[0-9]+)". Both strip the result; "[invalid]" when nothing matches. */
char *text_gsm8k_strict(const char *s);
char *text_gsm8k_flexible(const char *s);
/* exact_match normalisation of gsm8k: drop ",", "$", everything through the last "#### ",
 * a final "." (Python "\.$"), then lower-case. */
char *text_gsm8k_norm(const char *s);

#endif
