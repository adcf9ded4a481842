package main

import "testing"

// The rounds' summary reports medians: the middle value, or the mean of the two middle
// ones, whatever order the rounds came in.
func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{0.9}, 0.9},
		{[]float64{1.2, 0.8, 1.0}, 1.0},
		{[]float64{1.3, 0.7, 1.1, 0.9}, 1.0},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
