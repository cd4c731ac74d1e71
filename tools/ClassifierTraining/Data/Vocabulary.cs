namespace InferenceMesh.ClassifierTraining.Data;

/// <summary>Word lists the templates draw from. All names, companies and hosts are invented.</summary>
internal static class Vocabulary
{
    public static readonly string[] FirstNames =
    [
        "Ana", "Ben", "Chloé", "Dmitri", "Esi", "Farah", "Giulia", "Hiroshi", "Ingrid", "Jamal", "Kavya", "Liam",
        "Mei", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena",
        "Yusuf", "Zoe", "Aisha", "Bruno", "Carmen", "Diego", "Elif", "Femi", "Grace", "Hugo", "Isabel", "Jonas",
        "Kenji", "Lucia", "Marek", "Noor", "Olga", "Pedro", "Rania", "Samir", "Tomasz", "Valentina", "Wojciech",
    ];

    public static readonly string[] LastNames =
    [
        "Okafor", "Nguyen", "Schmidt", "Rossi", "García", "Kowalski", "Tanaka", "Haddad", "Johansson", "Patel",
        "O'Brien", "Dubois", "Silva", "Kim", "Novak", "Mensah", "Fischer", "Moreau", "Ivanova", "Chen", "Larsen",
        "Mahmoud", "Fernández", "Costa", "Yilmaz", "Murphy", "Andersen", "Bianchi", "Sato", "Adeyemi", "Horvath",
    ];

    public static readonly string[] Companies =
    [
        "Globex", "Initech", "Northwind Traders", "Contoso", "Umbrella Logistics", "Vandelay Industries", "Hooli",
        "Stark Freight", "Wayne Biotech", "Tyrell Systems", "Cyberdyne Health", "Soylent Foods", "Aperture Labs",
        "Oscorp Energy", "Gringotts Capital", "Duff Beverages", "Wonka Confectionery", "Pied Piper", "Massive Dynamic",
        "Blue Sun Retail", "Nakatomi Trading", "Monarch Insurance", "Zenith Pharma", "Helios Solar",
    ];

    public static readonly string[] CompanySlugs =
        ["acmecorp", "globex", "initech", "northwind", "contoso", "vandelay", "hooli", "tyrell", "zenith", "helios"];

    public static readonly string[] Cities =
    [
        "Lisbon", "Nairobi", "Osaka", "Toronto", "Kraków", "Lyon", "Bogotá", "Melbourne", "Cairo", "Oslo", "Pune",
        "Seville", "Dublin", "Hanoi", "Denver", "Porto", "Accra", "Tallinn", "Valparaíso", "Leeds", "Busan",
    ];

    public static readonly string[] Codenames =
    [
        "Bluefin", "Kestrel", "Juniper", "Nightjar", "Tamarack", "Halcyon", "Quokka", "Basalt", "Marigold", "Cobalt",
        "Saffron", "Lynx", "Meridian", "Driftwood", "Sparrow", "Obsidian", "Tundra", "Wisteria", "Falcon", "Ember",
        "Glacier", "Pinecone", "Sirocco", "Topaz", "Larkspur",
    ];

    public static readonly string[] Teams =
    [
        "Platform", "Payments Infra", "Growth", "Data Platform", "SRE", "Mobile Core", "Search Relevance",
        "Identity", "Billing", "Developer Experience", "Trust & Safety", "Checkout", "Observability", "ML Ops",
    ];

    public static readonly string[] TicketPrefixes = ["PLAT", "INFRA", "GRW", "DATA", "SRE", "MOB", "OPS", "BILL", "IDN", "DX"];

    public static readonly string[] Services =
    [
        "billing-api", "auth-gateway", "ledger", "search-indexer", "notification-svc", "feature-flags", "order-router",
        "inventory-sync", "report-builder", "session-store", "metrics-relay", "pricing-engine", "user-profile",
    ];

    public static readonly string[] Environments = ["prod", "staging", "dev", "qa", "perf"];

    public static readonly string[] Months =
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    public static readonly string[] Weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];

    public static readonly string[] Languages =
        ["French", "German", "Spanish", "Italian", "Japanese", "Portuguese", "Dutch", "Polish", "Korean", "Swedish", "Turkish", "Hindi"];

    public static readonly string[] ProgrammingLanguages = ["Python", "C#", "JavaScript", "TypeScript", "Go", "Java", "Rust", "SQL", "Bash"];

    public static readonly string[] Exceptions =
    [
        "a NullReferenceException", "a KeyError", "an IndexOutOfRangeException", "a TypeError", "a segmentation fault",
        "a timeout", "a 401 Unauthorized", "a deadlock", "an off-by-one error", "a ConcurrentModificationException",
    ];

    public static readonly string[] DocKinds = ["email", "memo", "report", "message", "thread", "set of notes", "document", "chat log"];

    public static readonly string[] Entities =
        ["names", "dates", "amounts", "email addresses", "company names", "locations", "phone numbers", "product names", "deadlines"];

    public static readonly string[] PublicTopics =
    [
        "photosynthesis", "the French Revolution", "black holes", "compound interest", "sourdough starters",
        "marathon training", "the history of jazz", "how vaccines work", "plate tectonics", "the Roman Empire",
        "how neural networks learn", "caring for houseplants", "ocean currents", "chess openings", "the water cycle",
        "Renaissance painting", "electric cars", "budget travel in Portugal", "learning Japanese", "coffee brewing methods",
        "the Fibonacci sequence", "how bees communicate", "the printing press", "volcanoes", "sleep hygiene",
        "the rules of cricket", "quantum entanglement", "minimalist interior design", "the Silk Road", "composting at home",
        "how rainbows form", "the basics of supply and demand", "ancient Egyptian writing", "bird migration",
        "the history of the bicycle", "how GPS works", "baking bread at high altitude", "the Big Bang", "origami",
    ];

    public static readonly string[] HowTos =
    [
        "reset a forgotten password on my own laptop", "choose a strong password for my email account",
        "set up a password manager", "make a sourdough loaf", "change a bike tyre", "write a cover letter",
        "keep a vegetable garden alive in summer", "learn to touch type", "plan a week of healthy meals",
        "remove a stripped screw", "start running again after an injury", "get better at public speaking",
        "generate an SSH key pair for a new machine", "store API keys safely in environment variables",
    ];

    public static readonly string[] HardNegativeSubjects =
    [
        "the confidential informant trope in detective fiction", "why doctors ask patients about family history",
        "the secret to a crispy roast potato", "what TOP SECRET clearance means in spy films",
        "the difference between public and private keys in cryptography", "why you should never reuse a password",
        "how attorney-client privilege works in general", "the classified ads section of old newspapers",
        "being patient with a toddler who won't sleep", "the key signature of a song in D minor",
        "what a confidentiality agreement usually covers", "how hospitals anonymise records for research",
        "the history of the Enigma machine and its secret keys", "tokens in natural language processing",
    ];

    public static readonly string[] FictionCharacters =
        ["a retired spy", "a lighthouse keeper", "a young hacker", "a detective", "a dragon", "a ship's cat", "an astronaut", "a village baker"];

    public static readonly string[] FictionPlots =
    [
        "finds a box of confidential letters in the attic", "has to guess the password to a magic door",
        "keeps a secret from the whole town", "discovers a classified map of the moon", "loses the key to the kingdom",
        "learns to be patient", "solves a mystery on a night train", "befriends a lonely robot",
    ];

    public static readonly string[] Conditions =
    [
        "type 2 diabetes", "hypertension", "major depressive disorder", "asthma", "HIV", "early-stage breast cancer",
        "bipolar disorder", "chronic kidney disease", "epilepsy", "long COVID", "a herniated disc", "opioid use disorder",
    ];

    public static readonly string[] Drugs =
        ["metformin", "lisinopril", "sertraline", "salbutamol", "tenofovir", "tamoxifen", "lithium", "levetiracetam", "buprenorphine"];

    public static readonly string[] Operations = ["Nightfall", "Iron Harbor", "Silent Echo", "Granite", "Blue Lantern", "Polar Gate"];
}
