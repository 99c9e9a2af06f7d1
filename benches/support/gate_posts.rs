//! The sample posts of `benches/gate.rs` (Figure 7), in a file of their own to keep the bench
//! short. Declared from `benches/gate.rs` with `#[path]`, not from `support/mod.rs`.

/// Typical posts of a peer-support channel: ordinary distress, questions, updates; no crisis.
pub const POSTS: [&str; 20] = [
    "I failed my chemistry midterm even though I studied every night for two weeks. I honestly \
     don't know what else I can do, and I'm scared to tell my parents because they're paying \
     for all of this.",
    "Does anyone else get really anxious before phone calls? I had to call the doctor's office \
     today and I rehearsed it for an hour.",
    "My dog died on Sunday. He was fourteen and had been with me since I was a kid. The \
     apartment feels so quiet now and I keep expecting to hear him at the door when I come home.",
    "Just wanted to say thanks to everyone who replied last week. I talked to my sister like you \
     suggested and it went way better than I expected.",
    "I got laid off this morning along with half my team. Rent is due in ten days and I have \
     maybe a month of savings. I keep refreshing job boards but my head is spinning and I can't \
     focus on a single application.",
    "I haven't slept more than four hours a night this whole week. My mind just races about \
     everything I said wrong during the day.",
    "My girlfriend and I broke up after three years. It was mutual, sort of, but I still feel \
     like someone pulled the floor out from under me. All our friends are shared, so every plan \
     reminds me of her, and I don't know whether to go out or stay home.",
    "Work burnout is real. I used to love my job as a nurse but lately I dread every shift, I \
     snap at my partner when I get home, and my days off just disappear into sleeping and \
     scrolling. I feel like I'm running on empty and nobody at work seems to notice. How do you \
     all recover when you're this drained?",
    "My roommate keeps having loud guests over until 3am on weeknights. I've asked nicely twice \
     and now things are tense between us. Any tips on how to bring it up again without it \
     turning into a fight?",
    "I'm thinking about coming out to my parents over the holidays. Part of me is excited to \
     finally stop hiding, but they're pretty religious and I'm terrified of how dinner will go.",
    "Had a panic attack in the middle of a meeting today. My heart was pounding and I had to \
     leave the room. I'm so embarrassed and I don't know how to face my coworkers tomorrow.",
    "Lately I just feel numb. Not sad exactly, just flat, like I'm watching my life through a \
     window.",
    "My mom was diagnosed with early-stage dementia last month. I'm the only one of my siblings \
     who lives nearby, so most of the appointments and paperwork fall on me. I love her and I \
     want to help, but I'm exhausted, and I feel guilty for even admitting that. Sometimes she \
     forgets what we talked about an hour ago and I have to explain everything again.",
    "Does it get easier? I started my first real job three months ago and I still feel like a \
     fraud who will be found out any day.",
    "I've been procrastinating on my thesis for weeks and now the deadline is close. Every time \
     I open the document I feel sick and close it again.",
    "New parent here. The baby is wonderful but I'm running on two hours of sleep and I cried in \
     the shower this morning for no reason. Is this normal?",
    "My best friend moved across the country last month. We text, but it's not the same, and \
     weekends feel really empty now.",
    "I had my first therapy session today. It was awkward and I barely said anything \
     meaningful, but I'm proud I actually went. Hoping next week is easier.",
    "I keep comparing my body to people on Instagram and it's making me miserable. I know the \
     photos are edited, but I still feel awful when I look in the mirror and I've stopped going \
     to the gym because I'm embarrassed.",
    "Money is really tight this month. My car broke down, the repair costs more than I make in \
     two weeks, and I need it to get to work. I'm trying to figure out who I could ask for help \
     without feeling ashamed about it.",
];
