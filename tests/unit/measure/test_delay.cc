// SPDX-License-Identifier: BSD-3-Clause
// measure::DelayWindow: bounds over the current and the previous window.
#include <gtest/gtest.h>

#include "measure/delay.h"

namespace flowteam::measure {
namespace {

TEST(DelayWindow, UnknownUntilTheFirstSample) {
    DelayWindow w;
    EXPECT_FALSE(w.known());
    w.roll(0, 100);
    w.roll(500, 100);
    EXPECT_FALSE(w.known());
    EXPECT_EQ(w.lo(), DelayWindow::kNone);
    w.add(40);
    EXPECT_TRUE(w.known());
    EXPECT_EQ(w.lo(), 40u);
    EXPECT_EQ(w.hi(), 40u);
    EXPECT_EQ(w.samples(), 1u);
}

TEST(DelayWindow, BoundsCoverTwoWindowsThenForget) {
    DelayWindow w;
    w.roll(0, 100);
    w.add(10);
    w.add(90);
    w.roll(50, 100);   // not yet a window
    w.add(30);
    EXPECT_EQ(w.lo(), 10u);
    EXPECT_EQ(w.hi(), 90u);
    w.roll(100, 100);  // window 1 closes: still counted
    w.add(50);
    EXPECT_EQ(w.lo(), 10u);
    EXPECT_EQ(w.hi(), 90u);
    w.roll(200, 100);  // window 1 is out, window 2 (50) is the previous one
    w.add(60);
    EXPECT_EQ(w.lo(), 50u);
    EXPECT_EQ(w.hi(), 60u);
    EXPECT_EQ(w.samples(), 5u);
}

TEST(DelayWindow, QuietMemberKeepsItsLastBounds) {
    DelayWindow w;
    w.roll(0, 100);
    w.add(70);
    w.roll(100, 100);
    w.roll(200, 100);
    w.roll(300, 100);
    EXPECT_TRUE(w.known());
    EXPECT_EQ(w.lo(), 70u);
    EXPECT_EQ(w.hi(), 70u);
    w.add(20);   // new traffic: new bounds at once
    EXPECT_EQ(w.lo(), 20u);
    EXPECT_EQ(w.hi(), 20u);
}

} // namespace
} // namespace flowteam::measure
