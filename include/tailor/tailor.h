/* libtailor: fit large language models to the machine they run on, explain
 * every choice, and run them. This header includes every public area. */
#ifndef TAILOR_TAILOR_H
#define TAILOR_TAILOR_H

#include "tailor/catalog.h"
#include "tailor/config.h"
#include "tailor/convert.h"
#include "tailor/engine.h"
#include "tailor/error.h"
#include "tailor/gguf.h"
#include "tailor/hooks.h"
#include "tailor/hw.h"
#include "tailor/model.h"
#include "tailor/plan.h"
#include "tailor/server.h"
#include "tailor/tokenizer.h"

#endif
