// `edgetrain --version` and edgetrain::version() report the version CMake's project() declares.
#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "edgetrain/version.h"

namespace edgetrain {
namespace {

TEST(Version, LibraryMatchesTheHeaders) {
  EXPECT_STREQ(version(), EDGETRAIN_VERSION_STRING);
  EXPECT_EQ(std::to_string(EDGETRAIN_VERSION_MAJOR) + "." +
                std::to_string(EDGETRAIN_VERSION_MINOR) + "." +
                std::to_string(EDGETRAIN_VERSION_PATCH),
            EDGETRAIN_VERSION_STRING);
}

TEST_F(Cli, VersionFlagPrintsTheLibraryVersion) {
  const CliRun run = this->run("--version");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, std::string("edgetrain ") + EDGETRAIN_VERSION_STRING + "\n");
}

}  // namespace
}  // namespace edgetrain
