// Unit tests for reading a secret from its own file (core/secret_file).
#include "core/secret_file.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "core/error.hpp"

namespace mpa::secrets {
namespace {

// A file in a fresh temporary directory, removed at the end of the test.
class SecretFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/mpa_secret_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/password";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  void write(const std::string &contents, mode_t mode) {
    std::ofstream(path_, std::ios::binary) << contents;
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
  }
  std::string error_of_reading() {
    try {
      read_secret_file(path_);
    } catch (const mpa::Error &e) {
      EXPECT_EQ(e.sqlstate(), "22023");
      return e.what();
    }
    return "";
  }
  std::string dir_;
  std::string path_;
};

TEST_F(SecretFile, OwnerOnlyFileIsRead) {
  write("s3cret\n", 0600);
  EXPECT_EQ(read_secret_file(path_), "s3cret");
}

TEST_F(SecretFile, ReadOnlyForTheOwnerIsFine) {
  write("s3cret", 0400);
  EXPECT_EQ(read_secret_file(path_), "s3cret");
}

TEST_F(SecretFile, GroupOrOtherAccessIsRefused) {
  for (mode_t mode : {0640, 0604, 0620, 0602, 0610, 0644}) {
    write("s3cret\n", mode);
    std::string error = error_of_reading();
    EXPECT_NE(error.find("has group or other access"), std::string::npos) << std::oct << mode;
    EXPECT_EQ(error.find("s3cret"), std::string::npos) << "the message never quotes the secret";
  }
}

TEST_F(SecretFile, MissingFileIsRefused) {
  EXPECT_NE(error_of_reading().find("cannot be opened"), std::string::npos);
}

TEST_F(SecretFile, DirectoryIsRefused) {
  path_ = dir_;
  EXPECT_NE(error_of_reading().find("is not a regular file"), std::string::npos);
  path_ = dir_ + "/password";
}

TEST_F(SecretFile, HugeFileIsRefused) {
  write(std::string(kMaxSecretFileBytes + 1, 'a'), 0600);
  EXPECT_NE(error_of_reading().find("is longer than"), std::string::npos);
}

TEST_F(SecretFile, FileOfAnotherOwnerIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the file away";
  write("s3cret\n", 0600);
  ASSERT_EQ(chown(path_.c_str(), 65534, 65534), 0);
  EXPECT_NE(error_of_reading().find("must be owned by"), std::string::npos);
}

TEST(SecretFromContents, OneLineEndIsStripped) {
  EXPECT_EQ(secret_from_contents("pw\n"), "pw");
  EXPECT_EQ(secret_from_contents("pw\r\n"), "pw");
  EXPECT_EQ(secret_from_contents("pw"), "pw");
  EXPECT_EQ(secret_from_contents(" pw "), " pw ") << "blanks are part of a password";
}

TEST(SecretFromContents, EmptyIsRefused) {
  EXPECT_THROW(secret_from_contents(""), mpa::Error);
  EXPECT_THROW(secret_from_contents("\n"), mpa::Error);
  EXPECT_THROW(secret_from_contents("\r\n"), mpa::Error);
}

TEST(SecretFromContents, MoreThanOneLineIsRefused) {
  EXPECT_THROW(secret_from_contents("pw\n\n"), mpa::Error);
  EXPECT_THROW(secret_from_contents("pw\nmore\n"), mpa::Error);
  EXPECT_THROW(secret_from_contents("pw\rmore"), mpa::Error);
}

TEST(SecretFromContents, NulIsRefused) { EXPECT_THROW(secret_from_contents(std::string("p\0w", 3)), mpa::Error); }

}  // namespace
}  // namespace mpa::secrets
