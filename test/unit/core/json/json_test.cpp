#include "core/json/json.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;

TEST(Json, ParsesAndReadsNestedValues) {
    Json doc = Json::parse(R"({"payload":{"contact":{"id":42,"name":"Ana","blocked":false}},"list":[1,2,3]})");
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc["payload"]["contact"]["id"].as_integer(), 42);
    EXPECT_EQ(doc["payload"]["contact"]["name"].as_string(), "Ana");
    EXPECT_EQ(doc["payload"]["contact"]["blocked"].as_bool(), false);
    EXPECT_EQ(doc["list"].size(), 3u);
    EXPECT_EQ(doc["list"].at(2).as_integer(), 3);
}

TEST(Json, MissingMembersAreEmptyNotCrashes) {
    Json doc = Json::parse(R"({"a":1})");
    EXPECT_FALSE(doc["nope"]);
    EXPECT_FALSE(doc["nope"]["deeper"]);
    EXPECT_FALSE(doc["a"]["b"]);
    EXPECT_EQ(doc["a"].as_string(), std::nullopt);
    EXPECT_FALSE(doc["a"].at(0));
}

TEST(Json, ReportsParseErrors) {
    std::string error;
    Json doc = Json::parse("<html>502 Bad Gateway</html>", &error);
    EXPECT_FALSE(doc);
    EXPECT_FALSE(error.empty());
}

// testar_conexao parses replies up to max_response_size (1 GB at most) in a backend:
// a cancel or statement_timeout must stop the parse, not wait for its end.
TEST(Json, AParseOfALargeTextStopsSoonAfterItIsAborted) {
    std::string large = "[";
    for (int i = 0; i < 2'000'000; ++i) large += "12345,";
    large += "0]";  // 12 MB
    int asked = 0;
    std::string error;
    Json stopped = Json::parse(large, &error, [&] { return ++asked > 3; });
    EXPECT_FALSE(stopped);
    EXPECT_EQ(error, "aborted");
    EXPECT_EQ(asked, 4);  // asked once more, then never again
    asked = 0;
    Json whole = Json::parse(large, &error, [&] { return ++asked < 0; });
    ASSERT_TRUE(whole);
    EXPECT_EQ(whole.size(), 2'000'001u);
    EXPECT_GT(asked, 1000);  // asked all along, not once
    EXPECT_FALSE(Json::parse("[1,", &error, [] { return false; }));  // errors still reported
    EXPECT_NE(error, "aborted");
}

TEST(Json, BuildsCompactJsonInInsertionOrder) {
    Json body = Json::object();
    body.set("name", "José \"Zé\" Silva");
    body.set("id", std::int64_t{7});
    body.set("tags", Json::array().append(Json::string("a")).append(Json::null()));
    EXPECT_EQ(body.dump(), R"({"name":"José \"Zé\" Silva","id":7,"tags":["a",null]})");
}

TEST(Json, CopiesShareAndOutliveTheOriginal) {
    Json inner;
    {
        Json doc = Json::parse(R"({"x":{"y":"z"}})");
        inner = doc["x"];
    }
    EXPECT_EQ(inner["y"].as_string(), "z");
}
