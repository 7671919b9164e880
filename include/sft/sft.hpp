// sft/sft.hpp — everything public in one include.
#pragma once

#include "sft/checkpoint.hpp"
#include "sft/checkpoint_writer.hpp"
#include "sft/compressed.hpp"
#include "sft/convert.hpp"
#include "sft/digest.hpp"
#include "sft/dtype.hpp"
#include "sft/error.hpp"
#include "sft/file.hpp"
#include "sft/header.hpp"
#include "sft/limits.hpp"
#include "sft/remote.hpp"
#include "sft/result.hpp"
#include "sft/slice.hpp"
#include "sft/strict.hpp"
#include "sft/tensor_view.hpp"
#include "sft/writer.hpp"
