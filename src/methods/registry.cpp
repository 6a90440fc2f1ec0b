#include "flowlab/methods/registry.h"

#include "flowlab/config.h"
#include "flowlab/error.h"
#include "flowlab/methods/cfm.h"

namespace flowlab {

std::vector<std::string> method_names() { return {"cfm"}; }

MethodPtr make_method(const Config& config) {
  if (config.method.name == "cfm") return std::make_unique<CfmMethod>(config.method);
  std::string known;
  for (const auto& n : method_names()) known += " " + n;
  throw Error("unknown method.name '" + config.method.name + "' (known:" + known + ")");
}

}  // namespace flowlab
