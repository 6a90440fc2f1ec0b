#include "flowlab/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <sstream>

#include "flowlab/error.h"

namespace flowlab {
namespace {

// One config key bound to a field of a Config instance.
struct Field {
  std::string section;
  std::string key;
  std::function<void(const YAML::Node&)> set;  // throws Error on a wrong type
  std::function<YAML::Node()> get;
  std::function<std::string()> check;  // "" when the value is allowed, else what is allowed
  std::string path() const { return section + "." + key; }
};

template <class T>
const char* type_name();
template <> const char* type_name<int>() { return "an integer"; }
template <> const char* type_name<int64_t>() { return "an integer"; }
template <> const char* type_name<double>() { return "a number"; }
template <> const char* type_name<bool>() { return "true or false"; }
template <> const char* type_name<std::string>() { return "a string"; }
template <> const char* type_name<std::vector<int>>() { return "a list of integers, e.g. [1, 2, 4]"; }
template <> const char* type_name<std::vector<double>>() { return "a list of numbers, e.g. [0.999, 0.9999]"; }

std::string node_text(const YAML::Node& node) {
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

template <class T>
using Rule = std::function<std::string(const T&)>;

// Scalars as YAML nodes; doubles with 10 significant digits so 3e-4 reads back as 0.0003.
template <class T>
YAML::Node to_node(const T& value) {
  return YAML::Node(value);
}
template <>
YAML::Node to_node<double>(const double& value) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.10g", value);
  return YAML::Node(std::string(buf));
}

template <>
YAML::Node to_node<std::vector<double>>(const std::vector<double>& values) {
  YAML::Node node(YAML::NodeType::Sequence);
  for (double v : values) node.push_back(to_node(v));
  return node;
}

template <class T>
Field make_field(const std::string& section, const std::string& key, T& ref, Rule<T> rule = {}) {
  Field f;
  f.section = section;
  f.key = key;
  f.set = [&ref, section, key](const YAML::Node& node) {
    constexpr bool is_list = std::is_same<T, std::vector<int>>::value || std::is_same<T, std::vector<double>>::value;
    bool shape_ok = is_list ? node.IsSequence() : node.IsScalar();
    try {
      if (!shape_ok) throw YAML::Exception(YAML::Mark::null_mark(), "shape");
      ref = node.as<T>();
    } catch (const YAML::Exception&) {
      throw Error("config: " + section + "." + key + " = " + node_text(node) + ": expected " +
                  type_name<T>());
    }
  };
  f.get = [&ref]() { return to_node(ref); };
  f.check = [&ref, rule]() { return rule ? rule(ref) : std::string(); };
  return f;
}

template <class T>
Rule<T> at_least(T lo) {
  return [lo](const T& v) {
    std::ostringstream s;
    if (!(v >= lo)) s << "must be >= " << lo;
    return s.str();
  };
}
template <class T>
Rule<T> greater_than(T lo) {
  return [lo](const T& v) {
    std::ostringstream s;
    if (!(v > lo)) s << "must be > " << lo;
    return s.str();
  };
}
template <class T>
Rule<T> in_range(T lo, T hi) {
  return [lo, hi](const T& v) {
    std::ostringstream s;
    if (!(v >= lo && v <= hi)) s << "must be in [" << lo << ", " << hi << "]";
    return s.str();
  };
}
Rule<std::string> one_of(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) {
    for (const auto& a : allowed)
      if (v == a) return std::string();
    std::string msg = "must be one of:";
    for (const auto& a : allowed) msg += " " + (a.empty() ? std::string("\"\"") : a);
    return msg;
  };
}
// Names (method, backbone, sampler, dataset) are checked against their registries by validate()
// in recipe.h; here they only have to be there.
Rule<std::string> named() {
  return [](const std::string& v) { return v.empty() ? std::string("must not be empty") : std::string(); };
}
// EMA decays: each in (0, 1), no two alike.
Rule<std::vector<double>> decays() {
  return [](const std::vector<double>& v) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (!(v[i] > 0 && v[i] < 1)) return std::string("every entry must be in (0, 1)");
      for (size_t j = 0; j < i; ++j)
        if (v[j] == v[i]) return std::string("every entry must differ from the others");
    }
    return std::string();
  };
}
Rule<std::vector<int>> each_positive(bool allow_empty) {
  return [allow_empty](const std::vector<int>& v) {
    if (v.empty() && !allow_empty) return std::string("must not be empty");
    for (int x : v)
      if (x <= 0) return std::string("every entry must be > 0");
    return std::string();
  };
}

// The model and data sections.
std::vector<Field> model_and_data_fields(Config& c) {
  auto& m = c.model;
  auto& d = c.data;
  return {
      make_field("model", "type", m.type, named()),
      make_field("model", "variant", m.variant),
      make_field("model", "in_channels", m.in_channels, in_range(1, 4)),
      make_field("model", "base_channels", m.base_channels, greater_than(0)),
      make_field("model", "channel_mults", m.channel_mults, each_positive(false)),
      make_field("model", "num_res_blocks", m.num_res_blocks, greater_than(0)),
      make_field("model", "time_embed_dim", m.time_embed_dim,
           Rule<int>([](const int& v) {
             return v >= 2 && v % 2 == 0 ? std::string() : std::string("must be even and >= 2");
           })),
      make_field("model", "num_classes", m.num_classes, at_least(0)),
      make_field("model", "dropout", m.dropout, in_range(0.0, 0.99)),
      make_field("model", "attention_resolutions", m.attention_resolutions, each_positive(true)),
      make_field("model", "num_heads", m.num_heads, greater_than(0)),
      make_field("model", "hidden_size", m.hidden_size, at_least(0)),
      make_field("model", "depth", m.depth, at_least(0)),
      make_field("model", "patch_size", m.patch_size, at_least(0)),
      make_field("model", "vae", m.vae),
      make_field("model", "vae_sha256", m.vae_sha256),
      make_field("model", "vae_scaling_factor", m.vae_scaling_factor, greater_than(0.0)),
      make_field("model", "vae_shift_factor", m.vae_shift_factor),
      make_field("model", "time_pair", m.time_pair, one_of({"t,t-r", "r,t"})),
      make_field("model", "checkpointing", m.checkpointing),
      make_field("model", "convention", m.convention, one_of({"", "dit", "sit", "repa"})),
      make_field("model", "learn_sigma", m.learn_sigma),

      make_field("data", "dataset", d.dataset, named()),
      make_field("data", "data_dir", d.data_dir),
      make_field("data", "split", d.split, one_of({"train", "test"})),
      make_field("data", "image_size", d.image_size, in_range(4, 1024)),
      make_field("data", "fit", d.fit, one_of({"auto", "pad", "resize", "crop"})),
      make_field("data", "random_flip", d.random_flip, one_of({"auto", "true", "false"})),
      make_field("data", "num_images", d.num_images, greater_than(0)),
      make_field("data", "shapes_seed", d.shapes_seed),
  };
}

// The method sections: method, ddpm, meanflow, vae.
std::vector<Field> method_fields(Config& c) {
  auto& me = c.method;
  auto& dd = c.ddpm;
  auto& mf = c.meanflow;
  auto& va = c.vae;
  return {
      make_field("method", "name", me.name, named()),
      make_field("method", "time_sampling", me.time_sampling, one_of({"uniform", "logit_normal"})),
      make_field("method", "logit_mean", me.logit_mean),
      make_field("method", "logit_std", me.logit_std, greater_than(0.0)),

      make_field("ddpm", "timesteps", dd.timesteps, in_range(2, 100000)),
      make_field("ddpm", "schedule", dd.schedule, one_of({"cosine", "linear"})),
      make_field("ddpm", "prediction", dd.prediction, one_of({"epsilon", "v", "x0"})),
      make_field("ddpm", "eta", dd.eta, in_range(0.0, 1.0)),
      make_field("ddpm", "clip_denoised", dd.clip_denoised),
      make_field("ddpm", "variance", dd.variance, one_of({"fixed_small", "learned_range"})),

      make_field("meanflow", "p_mean", mf.p_mean),
      make_field("meanflow", "p_std", mf.p_std, greater_than(0.0)),
      make_field("meanflow", "ratio_r_neq_t", mf.ratio_r_neq_t, in_range(0.0, 1.0)),
      make_field("meanflow", "adaptive_p", mf.adaptive_p, at_least(0.0)),
      make_field("meanflow", "adaptive_c", mf.adaptive_c, greater_than(0.0)),
      make_field("meanflow", "guidance_w", mf.guidance_w, at_least(0.0)),
      make_field("meanflow", "guidance_kappa", mf.guidance_kappa, in_range(0.0, 1.0)),
      make_field("meanflow", "guidance_t_min", mf.guidance_t_min, in_range(0.0, 1.0)),
      make_field("meanflow", "guidance_t_max", mf.guidance_t_max, in_range(0.0, 1.0)),
      make_field("meanflow", "jvp_pass", mf.jvp_pass, one_of({"separate", "fused"})),
      make_field("meanflow", "objective", mf.objective, one_of({"u_loss", "v_loss"})),
      make_field("meanflow", "guidance_conditioning", mf.guidance_conditioning),
      make_field("meanflow", "omega_min", mf.omega_min, at_least(1.0)),
      make_field("meanflow", "omega_max", mf.omega_max, at_least(1.0)),

      make_field("vae", "ch", va.ch, greater_than(0)),
      make_field("vae", "ch_mult", va.ch_mult, each_positive(false)),
      make_field("vae", "num_res_blocks", va.num_res_blocks, greater_than(0)),
      make_field("vae", "z_channels", va.z_channels, greater_than(0)),
      make_field("vae", "norm_groups", va.norm_groups, greater_than(0)),
      make_field("vae", "scaling_factor", va.scaling_factor, greater_than(0.0)),
      make_field("vae", "shift_factor", va.shift_factor),
      make_field("vae", "kl_weight", va.kl_weight, at_least(0.0)),
      make_field("vae", "perceptual", va.perceptual),
      make_field("vae", "perceptual_weight", va.perceptual_weight, at_least(0.0)),
      make_field("vae", "disc_weight", va.disc_weight, at_least(0.0)),
      make_field("vae", "disc_start", va.disc_start, at_least<int64_t>(0)),
      make_field("vae", "disc_layers", va.disc_layers, in_range(1, 6)),
      make_field("vae", "disc_channels", va.disc_channels, greater_than(0)),
  };
}

// scheduler, training and eval.
std::vector<Field> training_fields(Config& c) {
  auto& s = c.scheduler;
  auto& t = c.training;
  auto& ev = c.eval;
  return {
      make_field("scheduler", "type", s.type, one_of({"cosine", "constant"})),
      make_field("scheduler", "min_lr", s.min_lr, at_least(0.0)),
      make_field("scheduler", "warmup_steps", s.warmup_steps, at_least<int64_t>(0)),

      make_field("training", "epochs", t.epochs, greater_than(0)),
      make_field("training", "steps", t.steps, at_least<int64_t>(0)),
      make_field("training", "batch_size", t.batch_size, greater_than(0)),
      make_field("training", "accumulate", t.accumulate, greater_than(0)),
      make_field("training", "optimizer", t.optimizer, one_of({"adamw", "muon"})),
      make_field("training", "muon_lr", t.muon_lr, greater_than(0.0)),
      make_field("training", "muon_momentum", t.muon_momentum, in_range(0.0, 0.999999)),
      make_field("training", "lr", t.lr, greater_than(0.0)),
      make_field("training", "weight_decay", t.weight_decay, at_least(0.0)),
      make_field("training", "beta1", t.beta1, in_range(0.0, 0.999999)),
      make_field("training", "beta2", t.beta2, in_range(0.0, 0.999999)),
      make_field("training", "grad_clip", t.grad_clip, at_least(0.0)),
      make_field("training", "max_bad_steps", t.max_bad_steps, at_least(0)),
      make_field("training", "ema_decay", t.ema_decay, in_range(0.0, 1.0)),
      make_field("training", "ema_decays", t.ema_decays, decays()),
      make_field("training", "ema_warmup", t.ema_warmup),
      make_field("training", "cfg_dropout", t.cfg_dropout, in_range(0.0, 1.0)),
      make_field("training", "log_every", t.log_every, greater_than<int64_t>(0)),
      make_field("training", "sample_every", t.sample_every, at_least<int64_t>(0)),
      make_field("training", "final_grid", t.final_grid),
      make_field("training", "checkpoint_every", t.checkpoint_every, greater_than<int64_t>(0)),
      make_field("training", "eval_every", t.eval_every, at_least<int64_t>(0)),
      make_field("training", "tensorboard", t.tensorboard),
      make_field("training", "seed", t.seed, at_least<int64_t>(0)),
      make_field("training", "device", t.device, one_of({"cpu", "cuda"})),
      make_field("training", "threads", t.threads, at_least(0)),
      make_field("training", "output_dir", t.output_dir,
           Rule<std::string>([](const std::string& v) {
             return v.empty() ? std::string("must not be empty") : std::string();
           })),
      make_field("training", "init_from", t.init_from),

      make_field("eval", "num_samples", ev.num_samples, greater_than(1)),
      make_field("eval", "reference", ev.reference),
      make_field("eval", "sampler", ev.sampler),
      make_field("eval", "steps", ev.steps, at_least(0)),
      make_field("eval", "cfg_scale", ev.cfg_scale),
      make_field("eval", "kid", ev.kid),
      make_field("eval", "inception_weights", ev.inception_weights),
  };
}

// sampling, distributed and compute.
std::vector<Field> sampling_fields(Config& c) {
  auto& sa = c.sampling;
  auto& di = c.distributed;
  auto& co = c.compute;
  return {
      make_field("sampling", "sampler", sa.sampler, named()),
      make_field("sampling", "steps", sa.steps, greater_than(0)),
      make_field("sampling", "schedule", sa.schedule, named()),
      make_field("sampling", "shift", sa.shift, greater_than(0.0)),
      make_field("sampling", "sde_diffusion", sa.sde_diffusion, named()),
      make_field("sampling", "sde_norm", sa.sde_norm, greater_than(0.0)),
      make_field("sampling", "sde_last_step", sa.sde_last_step, in_range(0.0, 0.5)),
      make_field("sampling", "cfg_scale", sa.cfg_scale, at_least(0.0)),
      make_field("sampling", "cfg_t_min", sa.cfg_t_min, in_range(0.0, 1.0)),
      make_field("sampling", "cfg_t_max", sa.cfg_t_max, in_range(0.0, 1.0)),
      make_field("sampling", "cfg_channels", sa.cfg_channels, at_least(0)),
      make_field("sampling", "rtol", sa.rtol, greater_than(0.0)),
      make_field("sampling", "atol", sa.atol, greater_than(0.0)),
      make_field("sampling", "num_samples", sa.num_samples, greater_than(0)),
      make_field("sampling", "batch_size", sa.batch_size, greater_than(0)),
      make_field("sampling", "resample_jump", sa.resample_jump, greater_than(0)),
      make_field("sampling", "resample_repeats", sa.resample_repeats, greater_than(0)),

      make_field("distributed", "timeout", di.timeout, greater_than(0.0)),
      make_field("distributed", "bucket_mb", di.bucket_mb, greater_than(0.0)),

      make_field("compute", "precision", co.precision, one_of({"fp32", "bf16"})),
      make_field("compute", "channels_last", co.channels_last),
      make_field("compute", "data_on_device", co.data_on_device),
      make_field("compute", "cuda_graphs", co.cuda_graphs),
  };
}

std::vector<Field> schema(Config& c) {
  std::vector<Field> fields;
  for (auto part : {model_and_data_fields, method_fields, training_fields, sampling_fields}) {
    auto more = part(c);
    fields.insert(fields.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return fields;
}

std::string keys_of_section(std::vector<Field>& fields, const std::string& section) {
  std::string out;
  for (auto& f : fields)
    if (f.section == section) out += (out.empty() ? "" : ", ") + f.key;
  return out;
}

std::string section_names(std::vector<Field>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i)
    if (i == 0 || fields[i].section != fields[i - 1].section)
      out += (out.empty() ? "" : ", ") + fields[i].section;
  return out;
}

Field& find_field(std::vector<Field>& fields, const std::string& section, const std::string& key) {
  bool section_known = false;
  for (auto& f : fields) {
    if (f.section == section) {
      section_known = true;
      if (f.key == key) return f;
    }
  }
  if (!section_known)
    throw Error("config: unknown section '" + section + "' (sections: " + section_names(fields) + ")");
  throw Error("config: unknown key '" + section + "." + key + "' (keys in " + section + ": " +
              keys_of_section(fields, section) + ")");
}

void apply_yaml(Config& config, const YAML::Node& root, const std::string& source) {
  if (!root || root.IsNull()) return;
  if (!root.IsMap()) throw Error("config: " + source + " must be a mapping of sections");
  auto fields = schema(config);
  // Keys must be plain names; YAML also allows sequences and mappings as keys ("? [a, b]: 1").
  auto name_of = [&](const YAML::Node& key, const std::string& where) {
    if (!key.IsScalar())
      throw Error("config: " + source + ": " + where + " has a key that is not a plain name: " +
                  node_text(key));
    return key.Scalar();
  };
  for (const auto& section : root) {
    auto section_name = name_of(section.first, "the top level");
    bool known = std::any_of(fields.begin(), fields.end(),
                             [&](const Field& f) { return f.section == section_name; });
    if (!known) find_field(fields, section_name, "");  // throws, listing the sections
    if (!section.second.IsMap())
      throw Error("config: " + source + ": section '" + section_name +
                  "' must be a mapping of keys, got " + node_text(section.second));
    for (const auto& kv : section.second)
      find_field(fields, section_name, name_of(kv.first, "section '" + section_name + "'")).set(kv.second);
  }
}

}  // namespace

void apply_config_text(Config& config, const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error("config: YAML parse error: " + std::string(e.what()));
  }
  apply_yaml(config, root, "the YAML document");
}

void apply_config_file(Config& config, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw Error("config: cannot read " + path);
  } catch (const YAML::Exception& e) {
    throw Error("config: " + path + ": YAML parse error: " + std::string(e.what()));
  }
  apply_yaml(config, root, path);
}

void set_config_value(Config& config, const std::string& key, const std::string& value_text) {
  auto dot = key.find('.');
  if (dot == std::string::npos)
    throw Error("config: key '" + key + "' must have the form section.key, e.g. training.lr");
  auto fields = schema(config);
  auto& field = find_field(fields, key.substr(0, dot), key.substr(dot + 1));
  YAML::Node node;
  try {
    node = YAML::Load(value_text);
  } catch (const YAML::Exception&) {
    node = YAML::Node(value_text);
  }
  if (value_text.empty() || node.IsNull()) node = YAML::Node(value_text);
  field.set(node);
}

void apply_override(Config& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos)
    throw Error("config: --set '" + assignment + "' must have the form section.key=value");
  set_config_value(config, assignment.substr(0, eq), assignment.substr(eq + 1));
}

void validate_fields(const Config& config) {
  Config copy = config;
  auto fields = schema(copy);
  for (auto& f : fields) {
    auto problem = f.check();
    if (!problem.empty())
      throw Error("config: " + f.path() + " = " + node_text(f.get()) + ": " + problem);
  }
  auto check_interval = [](const std::string& low_key, double low, const std::string& high_key, double high) {
    if (low > high)
      throw Error("config: " + low_key + " (" + std::to_string(low) + ") must not exceed " + high_key + " (" +
                  std::to_string(high) + ")");
  };
  check_interval("meanflow.guidance_t_min", config.meanflow.guidance_t_min, "meanflow.guidance_t_max",
                 config.meanflow.guidance_t_max);
  check_interval("meanflow.omega_min", config.meanflow.omega_min, "meanflow.omega_max", config.meanflow.omega_max);
  if (config.meanflow.guidance_conditioning &&
      (config.meanflow.guidance_w != 1.0 || config.meanflow.guidance_kappa != 0.0))
    throw Error("config: meanflow.guidance_conditioning draws each row's guidance scale; leave meanflow.guidance_w at 1 "
                "and guidance_kappa at 0");
  check_interval("sampling.cfg_t_min", config.sampling.cfg_t_min, "sampling.cfg_t_max", config.sampling.cfg_t_max);
  if (config.scheduler.min_lr > config.training.lr)
    throw Error("config: scheduler.min_lr (" + std::to_string(config.scheduler.min_lr) +
                ") must not exceed training.lr (" + std::to_string(config.training.lr) + ")");
}

Error not_one_of(const std::string& key, const std::string& value,
                 const std::vector<std::string>& allowed) {
  return Error("config: " + key + " = " + value + ": " + one_of(allowed)(value));
}

std::string config_to_yaml(const Config& config) {
  Config copy = config;
  auto fields = schema(copy);
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i == 0 || fields[i].section != fields[i - 1].section) {
      if (i != 0) out << YAML::EndMap;
      out << YAML::Key << fields[i].section << YAML::Value << YAML::BeginMap;
    }
    auto value = fields[i].get();
    out << YAML::Key << fields[i].key << YAML::Value;
    if (value.IsSequence()) out << YAML::Flow;
    out << value;
  }
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> config_keys() {
  Config c;
  std::vector<std::string> keys;
  for (auto& f : schema(c)) keys.push_back(f.path());
  return keys;
}

}  // namespace flowlab
