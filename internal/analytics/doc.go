// Package analytics holds the customer models marketing works from: RFM
// scores and named segments, acquisition cohorts and their retention,
// lifetime value from the BG/NBD and Gamma-Gamma models, and behavioural
// clusters from k-means.
//
// Everything here is pure: functions take values and return values, with
// no I/O, no clock and no global randomness (k-means takes a seed), so the
// periodic model job, the tests and the evaluation commands all get the
// same answer from the same input.
//
// The usual flow of the periodic refresh:
//
//  1. [Summarize] turns purchases into one [Summary] per customer: repeat
//     frequency x, recency t_x and age T (in a chosen period, weeks as in
//     the CDNOW data the models were published on), and spend.
//  2. [FitBGNBD] and [FitGammaGamma] estimate the population parameters by
//     maximum likelihood (gonum's optimizer, in log-parameter space with
//     analytic gradients). They are validated against the published CDNOW
//     figures of Fader, Hardie and Lee (2005) and Fader and Hardie (2013).
//  3. [NewCLV] combines the two into per-customer probability alive,
//     expected purchases, expected order value and discounted value.
//  4. [ScoreRFM] gives quintile scores and the conventional named segment.
//  5. [FitSegments] clusters standardised features with seeded k-means++;
//     [Segmentation.Predict] assigns every other customer.
//
// [BuildCohorts] works directly on purchases.
//
// References:
//   - P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "Counting Your
//     Customers the Easy Way: An Alternative to the Pareto/NBD Model",
//     Marketing Science 24(2). https://www.brucehardie.com/papers/018/
//   - P. S. Fader, B. G. S. Hardie (2013), "The Gamma-Gamma Model of
//     Monetary Value". https://www.brucehardie.com/notes/025/
//   - P. S. Fader, B. G. S. Hardie, K. L. Lee (2008), "Computing P(alive)
//     Using the BG/NBD Model". https://www.brucehardie.com/notes/021/
package analytics
