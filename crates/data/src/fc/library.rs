//! The vocabulary of tool synthesis: parameter *concepts* (a typed kind of argument with name
//! variants, descriptions and query phrasings in English and Chinese, and a value pool) and
//! *actions* (what a function does, in a domain, with the concepts it takes). Specs are drawn
//! from these tables; queries mention the drawn values through the same phrasings.

/// A pair of texts: English, Chinese (the same string where a name is not translated).
pub(crate) type Pair = (&'static str, &'static str);

/// The type and value pool of a concept.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// A string from a pool; the query in each language uses that language's form.
    Text(&'static [Pair]),
    /// An integer in `min..=max`, a multiple of `step`.
    Int { min: i64, max: i64, step: i64 },
    /// A number in `min..=max`, a multiple of `step`.
    Num { min: f64, max: f64, step: f64 },
    /// A boolean flag; the phrase asks for it, so the value is `true`.
    Bool,
    /// A string enum: (value, English label, Chinese label); the query names the label.
    Enum(&'static [(&'static str, &'static str, &'static str)]),
    /// A date `YYYY-MM-DD`, written in the query as people write dates.
    Date,
    /// A time `HH:MM` (24-hour), written as `3:30 PM` or `下午3点30分`.
    Time,
    /// A duration in minutes, written as `1 hour 30 minutes`.
    Minutes { min: i64, max: i64 },
    /// A rate as a decimal (`0.05`), written as a percentage (`5%`).
    Percent { min: i64, max: i64 },
    /// An array of 2 to 4 strings from a pool.
    List(&'static [Pair]),
    /// An array of 3 to 6 integers in `min..=max`.
    IntList { min: i64, max: i64 },
    /// An object of other concepts (all required); the phrase names them as `{id}`.
    Object(&'static [&'static str]),
}

/// A kind of argument.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Concept {
    pub id: &'static str,
    /// Parameter names (snake_case); the first is the name used inside objects.
    pub names: &'static [&'static str],
    pub kind: Kind,
    /// Parameter description.
    pub desc: Pair,
    /// How a query gives the value: `{v}` is the value as written.
    pub say: Pair,
}

/// What a function does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Action {
    pub id: &'static str,
    pub domain: &'static str,
    pub verbs: &'static [&'static str],
    pub nouns: &'static [&'static str],
    /// The request as a verb phrase (`get the latest stock price`); the description is this
    /// phrase as a sentence.
    pub say: Pair,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

const CITIES: &[Pair] = &[
    ("Paris", "巴黎"),
    ("Tokyo", "东京"),
    ("Berlin", "柏林"),
    ("New York", "纽约"),
    ("Shanghai", "上海"),
    ("Sydney", "悉尼"),
    ("Cairo", "开罗"),
    ("Toronto", "多伦多"),
    ("Madrid", "马德里"),
    ("Seoul", "首尔"),
    ("Chengdu", "成都"),
    ("Lisbon", "里斯本"),
    ("Nairobi", "内罗毕"),
    ("Vancouver", "温哥华"),
    ("Hangzhou", "杭州"),
    ("Rome", "罗马"),
];
const COUNTRIES: &[Pair] = &[
    ("France", "法国"),
    ("Japan", "日本"),
    ("Brazil", "巴西"),
    ("Canada", "加拿大"),
    ("Kenya", "肯尼亚"),
    ("Germany", "德国"),
    ("China", "中国"),
    ("India", "印度"),
    ("Mexico", "墨西哥"),
    ("Italy", "意大利"),
    ("Australia", "澳大利亚"),
    ("Egypt", "埃及"),
];
const PEOPLE: &[Pair] = &[
    ("Alice Chen", "陈爱丽"),
    ("Maria Garcia", "玛丽亚"),
    ("Wang Lei", "王磊"),
    ("John Smith", "约翰·史密斯"),
    ("Li Na", "李娜"),
    ("Omar Haddad", "奥马尔"),
    ("Yuki Tanaka", "田中由纪"),
    ("Zhang Wei", "张伟"),
    ("Emma Brown", "艾玛·布朗"),
    ("Liu Yang", "刘洋"),
];
const TICKERS: &[Pair] = &[
    ("AAPL", "AAPL"),
    ("MSFT", "MSFT"),
    ("TSLA", "TSLA"),
    ("NVDA", "NVDA"),
    ("BABA", "BABA"),
    ("AMZN", "AMZN"),
    ("GOOGL", "GOOGL"),
    ("0700.HK", "0700.HK"),
    ("600519.SS", "600519.SS"),
];
const PRODUCTS: &[Pair] = &[
    ("wireless earbuds", "无线耳机"),
    ("running shoes", "跑鞋"),
    ("coffee grinder", "咖啡研磨机"),
    ("laptop stand", "笔记本支架"),
    ("yoga mat", "瑜伽垫"),
    ("desk lamp", "台灯"),
    ("hiking backpack", "登山包"),
    ("electric kettle", "电热水壶"),
    ("mechanical keyboard", "机械键盘"),
];
const SONGS: &[Pair] = &[
    ("Bohemian Rhapsody", "Bohemian Rhapsody"),
    ("Yesterday", "Yesterday"),
    ("Shape of You", "Shape of You"),
    ("Rolling in the Deep", "Rolling in the Deep"),
    ("Blue and White Porcelain", "青花瓷"),
    ("The Moon Represents My Heart", "月亮代表我的心"),
    ("Hotel California", "Hotel California"),
];
const ARTISTS: &[Pair] = &[
    ("Taylor Swift", "Taylor Swift"),
    ("Jay Chou", "周杰伦"),
    ("Adele", "Adele"),
    ("Faye Wong", "王菲"),
    ("Coldplay", "Coldplay"),
    ("Ed Sheeran", "Ed Sheeran"),
];
const MOVIES: &[Pair] = &[
    ("Inception", "盗梦空间"),
    ("Spirited Away", "千与千寻"),
    ("The Wandering Earth", "流浪地球"),
    ("Parasite", "寄生虫"),
    ("Interstellar", "星际穿越"),
    ("Hero", "英雄"),
];
const BOOKS: &[Pair] = &[
    ("Dune", "沙丘"),
    ("The Three-Body Problem", "三体"),
    ("Pride and Prejudice", "傲慢与偏见"),
    ("To Live", "活着"),
    ("The Little Prince", "小王子"),
];
const EMAILS: &[Pair] = &[
    ("alice@example.com", "alice@example.com"),
    ("wang.lei@example.org", "wang.lei@example.org"),
    ("team@example.net", "team@example.net"),
    ("maria.g@example.com", "maria.g@example.com"),
];
const FILES: &[Pair] = &[
    ("reports/q3_summary.docx", "reports/q3_summary.docx"),
    ("photos/beach.jpg", "photos/beach.jpg"),
    ("data/sales_2024.csv", "data/sales_2024.csv"),
    ("notes/todo.txt", "notes/todo.txt"),
    ("slides/kickoff.pptx", "slides/kickoff.pptx"),
];
const URLS: &[Pair] = &[
    (
        "https://example.com/blog/solar-power",
        "https://example.com/blog/solar-power",
    ),
    (
        "https://example.org/news/city-marathon",
        "https://example.org/news/city-marathon",
    ),
    (
        "https://example.net/guide/sourdough",
        "https://example.net/guide/sourdough",
    ),
];
const SNIPPETS: &[Pair] = &[
    ("The meeting is moved to Friday", "会议改到周五了"),
    ("I love this phone", "我很喜欢这部手机"),
    ("Where is the nearest station", "最近的车站在哪里"),
    ("The delivery was late again", "快递又迟到了"),
    ("Thank you for the lovely dinner", "谢谢你的美味晚餐"),
];
const TOPICS: &[Pair] = &[
    ("renewable energy", "可再生能源"),
    ("machine learning", "机器学习"),
    ("electric cars", "电动汽车"),
    ("marathon training", "马拉松训练"),
    ("budget travel", "穷游"),
    ("home gardening", "家庭园艺"),
];
const DEVICES: &[Pair] = &[
    ("living room lamp", "客厅灯"),
    ("bedroom air conditioner", "卧室空调"),
    ("kitchen speaker", "厨房音箱"),
    ("garage door", "车库门"),
    ("robot vacuum", "扫地机器人"),
];
const ROOMS: &[Pair] = &[
    ("living room", "客厅"),
    ("bedroom", "卧室"),
    ("kitchen", "厨房"),
    ("study", "书房"),
];
const SYMPTOMS: &[Pair] = &[
    ("headache", "头痛"),
    ("sore throat", "喉咙痛"),
    ("fever", "发烧"),
    ("back pain", "背痛"),
    ("insomnia", "失眠"),
];
const MEDICATIONS: &[Pair] = &[
    ("ibuprofen", "布洛芬"),
    ("amoxicillin", "阿莫西林"),
    ("vitamin D", "维生素D"),
    ("loratadine", "氯雷他定"),
];
const COMPOUNDS: &[Pair] = &[
    ("H2O", "H2O"),
    ("C6H12O6", "C6H12O6"),
    ("NaCl", "NaCl"),
    ("C2H5OH", "C2H5OH"),
    ("CO2", "CO2"),
];
const ELEMENTS: &[Pair] = &[
    ("hydrogen", "氢"),
    ("carbon", "碳"),
    ("iron", "铁"),
    ("gold", "金"),
    ("oxygen", "氧"),
];
const SPECIES: &[Pair] = &[
    ("African elephant", "非洲象"),
    ("giant panda", "大熊猫"),
    ("blue whale", "蓝鲸"),
    ("snow leopard", "雪豹"),
    ("emperor penguin", "帝企鹅"),
];
const PLANETS: &[Pair] = &[
    ("Mars", "火星"),
    ("Jupiter", "木星"),
    ("Venus", "金星"),
    ("Saturn", "土星"),
];
const AIRPORTS: &[Pair] = &[
    ("JFK", "JFK"),
    ("PEK", "PEK"),
    ("LHR", "LHR"),
    ("NRT", "NRT"),
    ("CDG", "CDG"),
    ("SFO", "SFO"),
    ("PVG", "PVG"),
];
const FLIGHTS: &[Pair] = &[
    ("CA981", "CA981"),
    ("UA857", "UA857"),
    ("LH723", "LH723"),
    ("MU587", "MU587"),
];
const ORDERS: &[Pair] = &[
    ("ORD-48213", "ORD-48213"),
    ("ORD-90017", "ORD-90017"),
    ("ORD-22561", "ORD-22561"),
];
const ACCOUNTS: &[Pair] = &[
    ("ACC-2231", "ACC-2231"),
    ("ACC-7780", "ACC-7780"),
    ("ACC-1049", "ACC-1049"),
];
const TEAMS: &[Pair] = &[
    ("Lakers", "湖人队"),
    ("Real Madrid", "皇家马德里"),
    ("Golden State Warriors", "金州勇士队"),
    ("Manchester United", "曼联"),
];
const INGREDIENTS: &[Pair] = &[
    ("tomato", "番茄"),
    ("egg", "鸡蛋"),
    ("rice", "米饭"),
    ("tofu", "豆腐"),
    ("chicken", "鸡肉"),
    ("garlic", "大蒜"),
    ("spinach", "菠菜"),
];
const TAGS: &[Pair] = &[
    ("urgent", "紧急"),
    ("work", "工作"),
    ("family", "家庭"),
    ("travel", "旅行"),
];
const TITLES: &[Pair] = &[
    ("Quarterly review", "季度复盘"),
    ("Team lunch", "团队午餐"),
    ("Dentist visit", "看牙医"),
    ("Project kickoff", "项目启动会"),
    ("Renew passport", "续办护照"),
];
const SUBJECTS: &[Pair] = &[
    ("Budget update", "预算更新"),
    ("Trip itinerary", "行程安排"),
    ("Meeting notes", "会议纪要"),
];
const REASONS: &[Pair] = &[
    ("ordered by mistake", "下错单了"),
    ("found a better price", "找到更便宜的了"),
    ("delivery too slow", "发货太慢"),
];
const JOBS: &[Pair] = &[
    ("data analyst", "数据分析师"),
    ("nurse", "护士"),
    ("software engineer", "软件工程师"),
    ("chef", "厨师"),
];
const PLAYLISTS: &[Pair] = &[
    ("Morning Run", "晨跑歌单"),
    ("Focus", "专注"),
    ("Road Trip", "自驾游"),
];

/// Every concept.
pub(crate) const CONCEPTS: &[Concept] = &[
    Concept {
        id: "city",
        names: &["city", "city_name", "location"],
        kind: Kind::Text(CITIES),
        desc: ("Name of the city", "城市名称"),
        say: ("in {v}", "城市是{v}"),
    },
    Concept {
        id: "origin_city",
        names: &["origin", "from_city", "start_city"],
        kind: Kind::Text(CITIES),
        desc: ("City to start from", "出发城市"),
        say: ("from {v}", "从{v}出发"),
    },
    Concept {
        id: "destination_city",
        names: &["destination", "to_city", "end_city"],
        kind: Kind::Text(CITIES),
        desc: ("City to go to", "目的地城市"),
        say: ("to {v}", "到{v}"),
    },
    Concept {
        id: "country",
        names: &["country", "country_name"],
        kind: Kind::Text(COUNTRIES),
        desc: ("Name of the country", "国家名称"),
        say: ("in {v}", "国家是{v}"),
    },
    Concept {
        id: "destination_country",
        names: &["destination_country", "target_country"],
        kind: Kind::Text(COUNTRIES),
        desc: ("Country to travel to", "要前往的国家"),
        say: ("for a trip to {v}", "去{v}"),
    },
    Concept {
        id: "nationality",
        names: &["nationality", "passport_country", "citizenship"],
        kind: Kind::Text(COUNTRIES),
        desc: (
            "Country that issued the traveller's passport",
            "旅客护照的签发国",
        ),
        say: ("with a passport from {v}", "持{v}护照"),
    },
    Concept {
        id: "person",
        names: &["recipient", "recipient_name", "payee"],
        kind: Kind::Text(PEOPLE),
        desc: ("Full name of the person", "对方的姓名"),
        say: ("to {v}", "收款人是{v}"),
    },
    Concept {
        id: "patient",
        names: &["patient_name", "patient", "name"],
        kind: Kind::Text(PEOPLE),
        desc: ("Name of the patient", "患者姓名"),
        say: ("for {v}", "患者是{v}"),
    },
    Concept {
        id: "ticker",
        names: &["symbol", "ticker", "stock_symbol"],
        kind: Kind::Text(TICKERS),
        desc: ("Stock ticker symbol, e.g. AAPL", "股票代码，例如AAPL"),
        say: ("for {v}", "股票代码{v}"),
    },
    Concept {
        id: "product",
        names: &["product", "product_name", "query"],
        kind: Kind::Text(PRODUCTS),
        desc: ("Product name or search words", "商品名称或搜索词"),
        say: ("for {v}", "商品是{v}"),
    },
    Concept {
        id: "song",
        names: &["song", "song_title", "track"],
        kind: Kind::Text(SONGS),
        desc: ("Title of the song", "歌曲名称"),
        say: ("\"{v}\"", "《{v}》"),
    },
    Concept {
        id: "artist",
        names: &["artist", "artist_name", "singer"],
        kind: Kind::Text(ARTISTS),
        desc: ("Name of the artist", "歌手名称"),
        say: ("by {v}", "歌手是{v}"),
    },
    Concept {
        id: "songs",
        names: &["songs", "tracks", "song_titles"],
        kind: Kind::List(SONGS),
        desc: ("Titles of the songs", "歌曲名称列表"),
        say: ("with the songs {v}", "包含歌曲{v}"),
    },
    Concept {
        id: "movie",
        names: &["title", "movie_title", "movie"],
        kind: Kind::Text(MOVIES),
        desc: ("Title of the movie", "电影名称"),
        say: ("\"{v}\"", "《{v}》"),
    },
    Concept {
        id: "book",
        names: &["book_title", "title_query", "book"],
        kind: Kind::Text(BOOKS),
        desc: ("Title of the book", "书名"),
        say: ("titled \"{v}\"", "书名是《{v}》"),
    },
    Concept {
        id: "email",
        names: &["email", "to", "recipient_email"],
        kind: Kind::Text(EMAILS),
        desc: ("Email address of the recipient", "收件人的邮箱地址"),
        say: ("to {v}", "发给{v}"),
    },
    Concept {
        id: "emails",
        names: &["attendees", "participants", "invitees"],
        kind: Kind::List(EMAILS),
        desc: (
            "Email addresses of the people invited",
            "受邀人的邮箱地址列表",
        ),
        say: ("inviting {v}", "邀请{v}"),
    },
    Concept {
        id: "file_path",
        names: &["path", "file_path", "filename"],
        kind: Kind::Text(FILES),
        desc: ("Path of the file", "文件路径"),
        say: ("{v}", "文件{v}"),
    },
    Concept {
        id: "file_paths",
        names: &["paths", "files", "file_list"],
        kind: Kind::List(FILES),
        desc: ("Paths of the files", "文件路径列表"),
        say: ("{v}", "文件{v}"),
    },
    Concept {
        id: "url",
        names: &["url", "page_url", "link"],
        kind: Kind::Text(URLS),
        desc: ("Address of the web page", "网页地址"),
        say: ("at {v}", "网址是{v}"),
    },
    Concept {
        id: "text",
        names: &["text", "content", "input_text"],
        kind: Kind::Text(SNIPPETS),
        desc: ("The text to process", "要处理的文本"),
        say: ("\"{v}\"", "“{v}”"),
    },
    Concept {
        id: "keyword",
        names: &["keyword", "query", "search_term"],
        kind: Kind::Text(TOPICS),
        desc: ("Words to search for", "搜索关键词"),
        say: ("about {v}", "关键词是{v}"),
    },
    Concept {
        id: "device",
        names: &["device", "device_name", "device_id"],
        kind: Kind::Text(DEVICES),
        desc: ("Name of the smart device", "智能设备名称"),
        say: ("for the {v}", "设备是{v}"),
    },
    Concept {
        id: "room",
        names: &["room", "zone", "area"],
        kind: Kind::Text(ROOMS),
        desc: ("Room of the home", "房间"),
        say: ("in the {v}", "{v}的"),
    },
    Concept {
        id: "symptom",
        names: &["symptom", "complaint", "condition"],
        kind: Kind::Text(SYMPTOMS),
        desc: ("The symptom to check", "要查询的症状"),
        say: ("for {v}", "症状是{v}"),
    },
    Concept {
        id: "medication",
        names: &["drug", "medication", "drug_name"],
        kind: Kind::Text(MEDICATIONS),
        desc: ("Name of the medication", "药品名称"),
        say: ("on {v}", "药品是{v}"),
    },
    Concept {
        id: "compound",
        names: &["formula", "compound", "chemical_formula"],
        kind: Kind::Text(COMPOUNDS),
        desc: ("Chemical formula of the compound", "化合物的化学式"),
        say: ("of {v}", "化学式{v}"),
    },
    Concept {
        id: "element",
        names: &["element", "element_name"],
        kind: Kind::Text(ELEMENTS),
        desc: ("Name of the chemical element", "化学元素名称"),
        say: ("({v})", "元素是{v}"),
    },
    Concept {
        id: "species",
        names: &["species", "animal", "species_name"],
        kind: Kind::Text(SPECIES),
        desc: ("Common name of the species", "物种的常用名"),
        say: ("({v})", "物种是{v}"),
    },
    Concept {
        id: "planet",
        names: &["planet", "body", "target_planet"],
        kind: Kind::Text(PLANETS),
        desc: ("Name of the planet", "行星名称"),
        say: ("to {v}", "行星是{v}"),
    },
    Concept {
        id: "origin_airport",
        names: &["origin", "from_airport", "departure_airport"],
        kind: Kind::Text(AIRPORTS),
        desc: ("IATA code of the departure airport", "出发机场的IATA代码"),
        say: ("from {v}", "从{v}出发"),
    },
    Concept {
        id: "destination_airport",
        names: &["destination", "to_airport", "arrival_airport"],
        kind: Kind::Text(AIRPORTS),
        desc: ("IATA code of the arrival airport", "到达机场的IATA代码"),
        say: ("to {v}", "到{v}"),
    },
    Concept {
        id: "flight_number",
        names: &["flight_number", "flight", "flight_code"],
        kind: Kind::Text(FLIGHTS),
        desc: ("Flight number, e.g. CA981", "航班号，例如CA981"),
        say: ("{v}", "航班{v}"),
    },
    Concept {
        id: "order_id",
        names: &["order_id", "order_number", "id"],
        kind: Kind::Text(ORDERS),
        desc: ("Identifier of the order", "订单编号"),
        say: ("{v}", "订单{v}"),
    },
    Concept {
        id: "account_id",
        names: &["account_id", "account", "account_number"],
        kind: Kind::Text(ACCOUNTS),
        desc: ("Identifier of the account", "账户编号"),
        say: ("of account {v}", "账户{v}"),
    },
    Concept {
        id: "team",
        names: &["team", "team_name", "club"],
        kind: Kind::Text(TEAMS),
        desc: ("Name of the team", "球队名称"),
        say: ("of the {v}", "球队是{v}"),
    },
    Concept {
        id: "ingredients",
        names: &["ingredients", "ingredient_list", "items"],
        kind: Kind::List(INGREDIENTS),
        desc: ("Ingredients to use", "要用到的食材"),
        say: ("with {v}", "食材有{v}"),
    },
    Concept {
        id: "tags",
        names: &["tags", "labels", "categories"],
        kind: Kind::List(TAGS),
        desc: ("Tags to attach", "要添加的标签"),
        say: ("tagged {v}", "标签是{v}"),
    },
    Concept {
        id: "cities",
        names: &["cities", "locations", "city_list"],
        kind: Kind::List(CITIES),
        desc: ("Names of the cities", "城市名称列表"),
        say: ("for {v}", "城市包括{v}"),
    },
    Concept {
        id: "event_title",
        names: &["title", "event_title", "summary"],
        kind: Kind::Text(TITLES),
        desc: ("Title of the event", "日程标题"),
        say: ("called \"{v}\"", "标题是“{v}”"),
    },
    Concept {
        id: "task_title",
        names: &["title", "task", "reminder_text"],
        kind: Kind::Text(TITLES),
        desc: ("What to be reminded of", "提醒内容"),
        say: ("to \"{v}\"", "内容是“{v}”"),
    },
    Concept {
        id: "subject",
        names: &["subject", "email_subject", "topic"],
        kind: Kind::Text(SUBJECTS),
        desc: ("Subject line of the email", "邮件主题"),
        say: ("with the subject \"{v}\"", "主题是“{v}”"),
    },
    Concept {
        id: "reason",
        names: &["reason", "cancel_reason", "note"],
        kind: Kind::Text(REASONS),
        desc: ("Why the order is cancelled", "取消原因"),
        say: ("(reason: {v})", "原因是{v}"),
    },
    Concept {
        id: "job_title",
        names: &["job_title", "position", "role"],
        kind: Kind::Text(JOBS),
        desc: ("Job title to search for", "职位名称"),
        say: ("for {v} roles", "职位是{v}"),
    },
    Concept {
        id: "playlist_name",
        names: &["name", "playlist_name", "title"],
        kind: Kind::Text(PLAYLISTS),
        desc: ("Name of the playlist", "歌单名称"),
        say: ("named \"{v}\"", "名字叫“{v}”"),
    },
    Concept {
        id: "limit",
        names: &["limit", "max_results", "top_k"],
        kind: Kind::Int {
            min: 1,
            max: 20,
            step: 1,
        },
        desc: ("Most results to return", "最多返回的结果数"),
        say: ("(top {v} only)", "最多返回{v}条"),
    },
    Concept {
        id: "year",
        names: &["year"],
        kind: Kind::Int {
            min: 1990,
            max: 2024,
            step: 1,
        },
        desc: ("The year", "年份"),
        say: ("for the year {v}", "年份是{v}年"),
    },
    Concept {
        id: "age",
        names: &["age", "patient_age"],
        kind: Kind::Int {
            min: 18,
            max: 85,
            step: 1,
        },
        desc: ("Age in years", "年龄（岁）"),
        say: ("for a {v}-year-old", "年龄{v}岁"),
    },
    Concept {
        id: "guests",
        names: &["guests", "party_size", "num_people"],
        kind: Kind::Int {
            min: 1,
            max: 8,
            step: 1,
        },
        desc: ("Number of people", "人数"),
        say: ("for {v} people", "{v}个人"),
    },
    Concept {
        id: "passengers",
        names: &["passengers", "adults", "num_passengers"],
        kind: Kind::Int {
            min: 1,
            max: 6,
            step: 1,
        },
        desc: ("Number of passengers", "乘客人数"),
        say: ("for {v} passengers", "乘客{v}人"),
    },
    Concept {
        id: "nights",
        names: &["nights", "num_nights", "stay_length"],
        kind: Kind::Int {
            min: 1,
            max: 14,
            step: 1,
        },
        desc: ("Number of nights", "入住晚数"),
        say: ("for {v} nights", "住{v}晚"),
    },
    Concept {
        id: "days",
        names: &["days", "num_days", "forecast_days"],
        kind: Kind::Int {
            min: 1,
            max: 7,
            step: 1,
        },
        desc: ("Number of days", "天数"),
        say: ("for the next {v} days", "未来{v}天"),
    },
    Concept {
        id: "quantity",
        names: &["quantity", "qty", "count"],
        kind: Kind::Int {
            min: 1,
            max: 10,
            step: 1,
        },
        desc: ("How many units", "购买数量"),
        say: ("(quantity {v})", "数量{v}件"),
    },
    Concept {
        id: "brightness",
        names: &["brightness", "level", "brightness_pct"],
        kind: Kind::Int {
            min: 5,
            max: 100,
            step: 5,
        },
        desc: ("Brightness in percent (0-100)", "亮度百分比（0-100）"),
        say: ("to {v}% brightness", "亮度调到{v}%"),
    },
    Concept {
        id: "volume",
        names: &["volume", "volume_level"],
        kind: Kind::Int {
            min: 10,
            max: 100,
            step: 10,
        },
        desc: ("Volume in percent (0-100)", "音量百分比（0-100）"),
        say: ("at {v}% volume", "音量{v}%"),
    },
    Concept {
        id: "volume_ml",
        names: &["amount_ml", "volume_ml", "milliliters"],
        kind: Kind::Int {
            min: 100,
            max: 1000,
            step: 50,
        },
        desc: ("Amount in milliliters", "饮水量（毫升）"),
        say: ("of {v} ml", "{v}毫升"),
    },
    Concept {
        id: "dosage_mg",
        names: &["dose_mg", "dosage", "dose"],
        kind: Kind::Int {
            min: 100,
            max: 1000,
            step: 50,
        },
        desc: ("Dose in milligrams", "剂量（毫克）"),
        say: ("at {v} mg", "剂量{v}毫克"),
    },
    Concept {
        id: "n",
        names: &["n", "number", "value"],
        kind: Kind::Int {
            min: 2,
            max: 20,
            step: 1,
        },
        desc: ("A non-negative integer", "一个非负整数"),
        say: ("of {v}", "{v}的"),
    },
    Concept {
        id: "big_n",
        names: &["number", "n", "candidate"],
        kind: Kind::Int {
            min: 2,
            max: 9999,
            step: 1,
        },
        desc: ("The integer to test", "要判断的整数"),
        say: ("{v}", "{v}"),
    },
    Concept {
        id: "int_a",
        names: &["a", "first", "x"],
        kind: Kind::Int {
            min: 6,
            max: 360,
            step: 6,
        },
        desc: ("The first integer", "第一个整数"),
        say: ("of {v}", "{v}"),
    },
    Concept {
        id: "int_b",
        names: &["b", "second", "y"],
        kind: Kind::Int {
            min: 4,
            max: 240,
            step: 4,
        },
        desc: ("The second integer", "第二个整数"),
        say: ("and {v}", "和{v}"),
    },
    Concept {
        id: "coef_a",
        names: &["a", "coef_a", "quadratic_coefficient"],
        kind: Kind::Int {
            min: 1,
            max: 9,
            step: 1,
        },
        desc: ("Coefficient of x squared", "二次项系数"),
        say: ("with a = {v},", "a = {v}"),
    },
    Concept {
        id: "coef_b",
        names: &["b", "coef_b", "linear_coefficient"],
        kind: Kind::Int {
            min: -12,
            max: 12,
            step: 1,
        },
        desc: ("Coefficient of x", "一次项系数"),
        say: ("b = {v}", "b = {v}"),
    },
    Concept {
        id: "coef_c",
        names: &["c", "coef_c", "constant"],
        kind: Kind::Int {
            min: -20,
            max: 20,
            step: 1,
        },
        desc: ("Constant term", "常数项"),
        say: ("and c = {v}", "c = {v}"),
    },
    Concept {
        id: "numbers",
        names: &["numbers", "values", "data"],
        kind: Kind::IntList { min: 1, max: 99 },
        desc: ("The numbers", "一组数字"),
        say: ("of {v}", "数字是{v}"),
    },
    Concept {
        id: "term_years",
        names: &["years", "term_years", "loan_term"],
        kind: Kind::Int {
            min: 1,
            max: 30,
            step: 1,
        },
        desc: ("Term in years", "期限（年）"),
        say: ("over {v} years", "期限{v}年"),
    },
    Concept {
        id: "page",
        names: &["page", "page_number"],
        kind: Kind::Int {
            min: 1,
            max: 9,
            step: 1,
        },
        desc: ("Page of results", "结果页码"),
        say: ("(page {v})", "第{v}页"),
    },
    Concept {
        id: "max_words",
        names: &["max_words", "length", "word_limit"],
        kind: Kind::Int {
            min: 30,
            max: 300,
            step: 10,
        },
        desc: ("Longest summary in words", "摘要最多字数"),
        say: ("in at most {v} words", "不超过{v}字"),
    },
    Concept {
        id: "min_salary",
        names: &["min_salary", "salary_from"],
        kind: Kind::Int {
            min: 3000,
            max: 30000,
            step: 1000,
        },
        desc: ("Lowest monthly salary", "最低月薪"),
        say: ("paying at least {v} a month", "月薪不低于{v}"),
    },
    Concept {
        id: "amount",
        names: &["amount", "value", "sum"],
        kind: Kind::Num {
            min: 10.0,
            max: 5000.0,
            step: 0.5,
        },
        desc: ("Amount of money", "金额"),
        say: ("for an amount of {v}", "金额{v}"),
    },
    Concept {
        id: "principal",
        names: &["principal", "loan_amount", "initial_amount"],
        kind: Kind::Num {
            min: 1000.0,
            max: 500_000.0,
            step: 500.0,
        },
        desc: ("Principal amount", "本金"),
        say: ("with a principal of {v}", "本金{v}"),
    },
    Concept {
        id: "max_price",
        names: &["max_price", "price_max", "budget"],
        kind: Kind::Num {
            min: 20.0,
            max: 2000.0,
            step: 10.0,
        },
        desc: ("Highest price in US dollars", "最高价格（美元）"),
        say: ("under {v} dollars", "价格不超过{v}美元"),
    },
    Concept {
        id: "weight_kg",
        names: &["weight", "weight_kg", "body_weight"],
        kind: Kind::Num {
            min: 40.0,
            max: 120.0,
            step: 0.5,
        },
        desc: ("Body weight in kilograms", "体重（公斤）"),
        say: ("for someone weighing {v} kg", "体重{v}公斤"),
    },
    Concept {
        id: "height_cm",
        names: &["height", "height_cm"],
        kind: Kind::Int {
            min: 145,
            max: 200,
            step: 1,
        },
        desc: ("Height in centimeters", "身高（厘米）"),
        say: ("and {v} cm tall", "身高{v}厘米"),
    },
    Concept {
        id: "temperature",
        names: &["temperature", "target_temp", "setpoint"],
        kind: Kind::Num {
            min: 16.0,
            max: 30.0,
            step: 0.5,
        },
        desc: (
            "Target temperature in degrees Celsius",
            "目标温度（摄氏度）",
        ),
        say: ("to {v} degrees", "调到{v}度"),
    },
    Concept {
        id: "radius",
        names: &["radius", "r"],
        kind: Kind::Num {
            min: 1.0,
            max: 50.0,
            step: 0.5,
        },
        desc: ("Radius of the circle", "圆的半径"),
        say: ("with radius {v}", "半径为{v}"),
    },
    Concept {
        id: "base",
        names: &["base", "base_length"],
        kind: Kind::Num {
            min: 1.0,
            max: 40.0,
            step: 0.5,
        },
        desc: ("Length of the base", "底边长度"),
        say: ("with base {v}", "底为{v}"),
    },
    Concept {
        id: "tri_height",
        names: &["height", "altitude"],
        kind: Kind::Num {
            min: 1.0,
            max: 40.0,
            step: 0.5,
        },
        desc: ("Height of the triangle", "三角形的高"),
        say: ("and height {v}", "高为{v}"),
    },
    Concept {
        id: "min_rating",
        names: &["min_rating", "rating", "stars"],
        kind: Kind::Num {
            min: 3.0,
            max: 5.0,
            step: 0.5,
        },
        desc: ("Lowest rating, from 1 to 5", "最低评分（1-5）"),
        say: ("rated at least {v} stars", "评分不低于{v}星"),
    },
    Concept {
        id: "magnitude",
        names: &["min_magnitude", "magnitude"],
        kind: Kind::Num {
            min: 2.0,
            max: 7.0,
            step: 0.5,
        },
        desc: ("Smallest magnitude", "最小震级"),
        say: ("of magnitude {v} or more", "震级不低于{v}"),
    },
    Concept {
        id: "latitude",
        names: &["latitude", "lat"],
        kind: Kind::Num {
            min: -60.0,
            max: 60.0,
            step: 0.25,
        },
        desc: ("Latitude in degrees", "纬度"),
        say: ("{v}", "纬度{v}"),
    },
    Concept {
        id: "longitude",
        names: &["longitude", "lon"],
        kind: Kind::Num {
            min: -170.0,
            max: 170.0,
            step: 0.25,
        },
        desc: ("Longitude in degrees", "经度"),
        say: ("{v}", "经度{v}"),
    },
    Concept {
        id: "annual_rate",
        names: &["rate", "annual_rate", "interest_rate"],
        kind: Kind::Percent { min: 1, max: 12 },
        desc: (
            "Annual interest rate as a decimal (0.05 means 5%)",
            "年利率，用小数表示（0.05表示5%）",
        ),
        say: ("at {v} a year", "年利率{v}"),
    },
    Concept {
        id: "duration",
        names: &["duration_minutes", "duration", "minutes"],
        kind: Kind::Minutes { min: 15, max: 240 },
        desc: ("Duration in minutes", "时长（分钟）"),
        say: ("for {v}", "时长{v}"),
    },
    Concept {
        id: "max_time",
        names: &["max_minutes", "max_time", "time_limit"],
        kind: Kind::Minutes { min: 15, max: 120 },
        desc: ("Longest cooking time in minutes", "最长烹饪时间（分钟）"),
        say: ("that take at most {v}", "用时不超过{v}"),
    },
    Concept {
        id: "date",
        names: &["date", "day", "on_date"],
        kind: Kind::Date,
        desc: ("Date in YYYY-MM-DD format", "日期，格式为YYYY-MM-DD"),
        say: ("on {v}", "日期是{v}"),
    },
    Concept {
        id: "departure_date",
        names: &["departure_date", "date", "depart_on"],
        kind: Kind::Date,
        desc: ("Departure date, YYYY-MM-DD", "出发日期，格式YYYY-MM-DD"),
        say: ("on {v}", "{v}出发"),
    },
    Concept {
        id: "check_in",
        names: &["check_in", "checkin_date", "arrival_date"],
        kind: Kind::Date,
        desc: ("Check-in date, YYYY-MM-DD", "入住日期，格式YYYY-MM-DD"),
        say: ("checking in on {v}", "{v}入住"),
    },
    Concept {
        id: "start_date",
        names: &["start_date", "from_date", "since"],
        kind: Kind::Date,
        desc: ("First day, YYYY-MM-DD", "开始日期，格式YYYY-MM-DD"),
        say: ("from {v}", "从{v}开始"),
    },
    Concept {
        id: "end_date",
        names: &["end_date", "to_date", "until"],
        kind: Kind::Date,
        desc: ("Last day, YYYY-MM-DD", "结束日期，格式YYYY-MM-DD"),
        say: ("until {v}", "到{v}为止"),
    },
    Concept {
        id: "time",
        names: &["time", "start_time", "at"],
        kind: Kind::Time,
        desc: ("Time of day, 24-hour HH:MM", "时间，24小时制HH:MM"),
        say: ("at {v}", "时间{v}"),
    },
    Concept {
        id: "include_reviews",
        names: &["include_reviews", "with_reviews"],
        kind: Kind::Bool,
        desc: ("Whether to include reviews", "是否包含评论"),
        say: ("including reviews", "要包含评论"),
    },
    Concept {
        id: "include_details",
        names: &["include_details", "detailed", "verbose"],
        kind: Kind::Bool,
        desc: ("Whether to return full details", "是否返回详细信息"),
        say: ("with full details", "要详细信息"),
    },
    Concept {
        id: "nonstop",
        names: &["nonstop", "direct_only"],
        kind: Kind::Bool,
        desc: ("Only nonstop flights", "是否只要直飞航班"),
        say: ("nonstop only", "只要直飞"),
    },
    Concept {
        id: "notify",
        names: &["notify", "send_notification"],
        kind: Kind::Bool,
        desc: ("Whether to send a notification", "是否发送通知"),
        say: ("and send a notification", "并发送通知"),
    },
    Concept {
        id: "gift_wrap",
        names: &["gift_wrap", "gift"],
        kind: Kind::Bool,
        desc: ("Whether to gift-wrap the order", "是否礼品包装"),
        say: ("with gift wrapping", "需要礼品包装"),
    },
    Concept {
        id: "sort_by",
        names: &["sort_by", "order_by", "sort"],
        kind: Kind::Enum(&[
            ("price", "price", "价格"),
            ("rating", "rating", "评分"),
            ("distance", "distance", "距离"),
        ]),
        desc: ("Field to sort the results by", "结果的排序字段"),
        say: ("sorted by {v}", "按{v}排序"),
    },
    Concept {
        id: "sort_order",
        names: &["order", "sort_order", "direction"],
        kind: Kind::Enum(&[("asc", "ascending", "升序"), ("desc", "descending", "降序")]),
        desc: ("Sort direction", "排序方向"),
        say: ("in {v} order", "按{v}排列"),
    },
    Concept {
        id: "currency",
        names: &["currency", "currency_code"],
        kind: Kind::Enum(CURRENCIES),
        desc: ("ISO 4217 currency code", "ISO 4217货币代码"),
        say: ("in {v}", "用{v}计价"),
    },
    Concept {
        id: "from_currency",
        names: &["from_currency", "source_currency", "base"],
        kind: Kind::Enum(CURRENCIES),
        desc: (
            "Currency to convert from (ISO 4217 code)",
            "原货币（ISO 4217代码）",
        ),
        say: ("from {v}", "从{v}"),
    },
    Concept {
        id: "to_currency",
        names: &["to_currency", "target_currency", "quote"],
        kind: Kind::Enum(CURRENCIES),
        desc: (
            "Currency to convert to (ISO 4217 code)",
            "目标货币（ISO 4217代码）",
        ),
        say: ("to {v}", "换成{v}"),
    },
    Concept {
        id: "temp_unit",
        names: &["unit", "units", "temperature_unit"],
        kind: Kind::Enum(&[
            ("celsius", "Celsius", "摄氏度"),
            ("fahrenheit", "Fahrenheit", "华氏度"),
        ]),
        desc: ("Temperature unit", "温度单位"),
        say: ("in {v}", "用{v}"),
    },
    Concept {
        id: "unit_system",
        names: &["unit_system", "units", "measurement"],
        kind: Kind::Enum(&[
            ("metric", "metric", "公制"),
            ("imperial", "imperial", "英制"),
        ]),
        desc: ("Unit system of the result", "结果使用的单位制"),
        say: ("in {v} units", "用{v}单位"),
    },
    Concept {
        id: "length_unit",
        names: &["unit", "length_unit"],
        kind: Kind::Enum(&[
            ("cm", "centimeters", "厘米"),
            ("m", "meters", "米"),
            ("in", "inches", "英寸"),
        ]),
        desc: ("Unit of the lengths", "长度单位"),
        say: ("in {v}", "单位是{v}"),
    },
    Concept {
        id: "cabin_class",
        names: &["cabin_class", "cabin", "travel_class"],
        kind: Kind::Enum(&[
            ("economy", "economy", "经济舱"),
            ("business", "business class", "商务舱"),
            ("first", "first class", "头等舱"),
        ]),
        desc: ("Cabin class", "舱位等级"),
        say: ("in {v}", "坐{v}"),
    },
    Concept {
        id: "priority",
        names: &["priority", "importance"],
        kind: Kind::Enum(&[
            ("low", "low", "低"),
            ("normal", "normal", "普通"),
            ("high", "high", "高"),
        ]),
        desc: ("Priority", "优先级"),
        say: ("with {v} priority", "优先级为{v}"),
    },
    Concept {
        id: "mode",
        names: &["mode", "travel_mode", "transport"],
        kind: Kind::Enum(&[
            ("driving", "driving", "驾车"),
            ("walking", "walking", "步行"),
            ("transit", "public transit", "公共交通"),
            ("cycling", "cycling", "骑行"),
        ]),
        desc: ("How to travel", "出行方式"),
        say: ("by {v}", "出行方式是{v}"),
    },
    Concept {
        id: "file_format",
        names: &["format", "target_format", "file_type"],
        kind: Kind::Enum(&[
            ("pdf", "PDF", "PDF"),
            ("csv", "CSV", "CSV"),
            ("json", "JSON", "JSON"),
            ("html", "HTML", "HTML"),
        ]),
        desc: ("File format", "文件格式"),
        say: ("as {v}", "格式为{v}"),
    },
    Concept {
        id: "period",
        names: &["interval", "period", "frequency"],
        kind: Kind::Enum(&[
            ("daily", "daily", "每日"),
            ("weekly", "weekly", "每周"),
            ("monthly", "monthly", "每月"),
        ]),
        desc: ("Interval between data points", "数据间隔"),
        say: ("at {v} intervals", "按{v}"),
    },
    Concept {
        id: "ac_mode",
        names: &["mode", "hvac_mode"],
        kind: Kind::Enum(&[
            ("cool", "cooling", "制冷"),
            ("heat", "heating", "制热"),
            ("auto", "auto", "自动"),
        ]),
        desc: ("Operating mode", "运行模式"),
        say: ("in {v} mode", "{v}模式"),
    },
    Concept {
        id: "activity",
        names: &["activity", "exercise", "sport"],
        kind: Kind::Enum(&[
            ("running", "running", "跑步"),
            ("swimming", "swimming", "游泳"),
            ("cycling", "cycling", "骑车"),
            ("yoga", "yoga", "瑜伽"),
        ]),
        desc: ("Kind of exercise", "运动类型"),
        say: ("from {v}", "运动是{v}"),
    },
    Concept {
        id: "language",
        names: &["target_language", "language", "to_lang"],
        kind: Kind::Enum(LANGUAGES),
        desc: ("Language code (ISO 639-1)", "语言代码（ISO 639-1）"),
        say: ("into {v}", "翻译成{v}"),
    },
    Concept {
        id: "source_language",
        names: &["source_language", "from_lang"],
        kind: Kind::Enum(LANGUAGES),
        desc: ("Language of the input (ISO 639-1)", "原文语言（ISO 639-1）"),
        say: ("from {v}", "原文是{v}"),
    },
    Concept {
        id: "text_language",
        names: &["language", "lang"],
        kind: Kind::Enum(LANGUAGES),
        desc: ("Language of the text (ISO 639-1)", "文本语言（ISO 639-1）"),
        say: ("(the text is in {v})", "文本是{v}"),
    },
    Concept {
        id: "genre",
        names: &["genre", "category"],
        kind: Kind::Enum(&[
            ("action", "action", "动作"),
            ("comedy", "comedy", "喜剧"),
            ("drama", "drama", "剧情"),
            ("science_fiction", "science fiction", "科幻"),
        ]),
        desc: ("Movie genre", "电影类型"),
        say: ("in the {v} genre", "类型是{v}"),
    },
    Concept {
        id: "music_genre",
        names: &["genre", "style"],
        kind: Kind::Enum(&[
            ("jazz", "jazz", "爵士"),
            ("rock", "rock", "摇滚"),
            ("classical", "classical", "古典"),
            ("pop", "pop", "流行"),
        ]),
        desc: ("Music genre", "音乐风格"),
        say: ("in the {v} style", "风格是{v}"),
    },
    Concept {
        id: "cuisine",
        names: &["cuisine", "food_type"],
        kind: Kind::Enum(&[
            ("italian", "Italian", "意大利菜"),
            ("sichuan", "Sichuan", "川菜"),
            ("japanese", "Japanese", "日料"),
            ("mexican", "Mexican", "墨西哥菜"),
        ]),
        desc: ("Type of cuisine", "菜系"),
        say: ("serving {v} food", "菜系是{v}"),
    },
    Concept {
        id: "shipping",
        names: &["shipping", "delivery_speed", "shipping_method"],
        kind: Kind::Enum(&[
            ("standard", "standard", "标准"),
            ("express", "express", "加急"),
        ]),
        desc: ("Shipping speed", "配送方式"),
        say: ("with {v} shipping", "{v}配送"),
    },
    Concept {
        id: "payment",
        names: &["payment_method", "pay_with"],
        kind: Kind::Enum(&[
            ("card", "a card", "银行卡"),
            ("paypal", "PayPal", "PayPal"),
            ("alipay", "Alipay", "支付宝"),
        ]),
        desc: ("How to pay", "支付方式"),
        say: ("paying with {v}", "用{v}支付"),
    },
    Concept {
        id: "sport",
        names: &["sport", "league_type"],
        kind: Kind::Enum(&[
            ("basketball", "basketball", "篮球"),
            ("soccer", "soccer", "足球"),
        ]),
        desc: ("The sport", "运动项目"),
        say: ("in {v}", "项目是{v}"),
    },
    Concept {
        id: "coordinates",
        names: &["location", "coordinates", "point"],
        kind: Kind::Object(&["latitude", "longitude"]),
        desc: ("Geographic point", "地理坐标"),
        say: (
            "near latitude {latitude}, longitude {longitude}",
            "在纬度{latitude}、经度{longitude}附近",
        ),
    },
    Concept {
        id: "place",
        names: &["location", "place", "address"],
        kind: Kind::Object(&["city", "country"]),
        desc: ("City and country", "城市和国家"),
        say: ("in {city}, {country}", "在{country}{city}"),
    },
];

const CURRENCIES: &[(&str, &str, &str)] = &[
    ("USD", "US dollars", "美元"),
    ("EUR", "euros", "欧元"),
    ("JPY", "Japanese yen", "日元"),
    ("CNY", "Chinese yuan", "人民币"),
    ("GBP", "British pounds", "英镑"),
];
const LANGUAGES: &[(&str, &str, &str)] = &[
    ("en", "English", "英语"),
    ("zh", "Chinese", "中文"),
    ("fr", "French", "法语"),
    ("es", "Spanish", "西班牙语"),
    ("ja", "Japanese", "日语"),
    ("de", "German", "德语"),
];

/// Every action.
pub(crate) const ACTIONS: &[Action] = &[
    // finance
    Action {
        id: "stock_price",
        domain: "finance",
        verbs: &["get", "fetch", "lookup"],
        nouns: &["stock_price", "share_price", "quote"],
        say: ("get the latest stock price", "查询股票的最新价格"),
        required: &["ticker"],
        optional: &["currency", "include_details"],
    },
    Action {
        id: "stock_history",
        domain: "finance",
        verbs: &["get", "fetch"],
        nouns: &["price_history", "stock_history", "historical_prices"],
        say: ("get the historical prices of a stock", "获取股票的历史价格"),
        required: &["ticker", "start_date", "end_date"],
        optional: &["period"],
    },
    Action {
        id: "loan_payment",
        domain: "finance",
        verbs: &["calculate", "compute", "estimate"],
        nouns: &["loan_payment", "monthly_payment", "mortgage_payment"],
        say: ("calculate the monthly payment of a loan", "计算贷款的月供"),
        required: &["principal", "annual_rate", "term_years"],
        optional: &[],
    },
    Action {
        id: "compound_interest",
        domain: "finance",
        verbs: &["calculate", "compute"],
        nouns: &["compound_interest", "future_value", "investment_growth"],
        say: (
            "calculate the future value of an investment with compound interest",
            "计算复利投资的终值",
        ),
        required: &["principal", "annual_rate", "term_years"],
        optional: &["period"],
    },
    Action {
        id: "convert_currency",
        domain: "finance",
        verbs: &["convert", "exchange"],
        nouns: &["currency", "money", "amount"],
        say: ("convert money between currencies", "在货币之间换算金额"),
        required: &["amount", "from_currency", "to_currency"],
        optional: &["date"],
    },
    Action {
        id: "transfer_money",
        domain: "finance",
        verbs: &["transfer", "send", "pay"],
        nouns: &["money", "funds", "payment"],
        say: ("send money", "转账"),
        required: &["person", "amount"],
        optional: &["currency", "notify"],
    },
    Action {
        id: "list_transactions",
        domain: "banking",
        verbs: &["list", "get", "search"],
        nouns: &["transactions", "payments", "statement"],
        say: ("list the transactions", "列出交易记录"),
        required: &["account_id"],
        optional: &["start_date", "end_date", "limit"],
    },
    // travel
    Action {
        id: "search_flights",
        domain: "travel",
        verbs: &["search", "find"],
        nouns: &["flights", "airfare", "flight_offers"],
        say: ("search for flights", "搜索航班"),
        required: &["origin_airport", "destination_airport", "departure_date"],
        optional: &["passengers", "cabin_class", "nonstop"],
    },
    Action {
        id: "book_hotel",
        domain: "travel",
        verbs: &["book", "reserve"],
        nouns: &["hotel", "hotel_room", "room"],
        say: ("book a hotel room", "预订酒店房间"),
        required: &["city", "check_in", "nights"],
        optional: &["guests", "max_price"],
    },
    Action {
        id: "search_hotels",
        domain: "travel",
        verbs: &["search", "find", "list"],
        nouns: &["hotels", "lodging", "accommodation"],
        say: ("search for hotels", "搜索酒店"),
        required: &["city"],
        optional: &["check_in", "guests", "min_rating", "sort_by"],
    },
    Action {
        id: "flight_status",
        domain: "travel",
        verbs: &["get", "check", "track"],
        nouns: &["flight_status", "flight", "flight_info"],
        say: ("check the status of flight", "查询航班状态"),
        required: &["flight_number"],
        optional: &["date"],
    },
    Action {
        id: "directions",
        domain: "maps",
        verbs: &["get", "plan", "find"],
        nouns: &["directions", "route", "itinerary"],
        say: ("get directions", "规划路线"),
        required: &["origin_city", "destination_city"],
        optional: &["mode"],
    },
    Action {
        id: "visa",
        domain: "travel",
        verbs: &["get", "check"],
        nouns: &["visa_requirements", "visa_info", "entry_requirements"],
        say: ("check the visa requirements", "查询签证要求"),
        required: &["destination_country"],
        optional: &["nationality"],
    },
    Action {
        id: "attractions",
        domain: "travel",
        verbs: &["find", "list", "recommend"],
        nouns: &["attractions", "sights", "landmarks"],
        say: ("find tourist attractions", "查找旅游景点"),
        required: &["city"],
        optional: &["limit", "sort_by"],
    },
    Action {
        id: "time_zone",
        domain: "time",
        verbs: &["convert", "translate"],
        nouns: &["time_zone", "timezone", "local_time"],
        say: ("convert a time between time zones", "换算不同时区的时间"),
        required: &["time", "origin_city", "destination_city"],
        optional: &["date"],
    },
    // health
    Action {
        id: "bmi",
        domain: "health",
        verbs: &["calculate", "compute"],
        nouns: &["bmi", "body_mass_index"],
        say: ("calculate the body mass index", "计算身体质量指数"),
        required: &["weight_kg", "height_cm"],
        optional: &["unit_system"],
    },
    Action {
        id: "calories",
        domain: "fitness",
        verbs: &["estimate", "calculate"],
        nouns: &["calories_burned", "calorie_burn", "energy_expenditure"],
        say: ("estimate the calories burned", "估算消耗的卡路里"),
        required: &["activity", "duration", "weight_kg"],
        optional: &[],
    },
    Action {
        id: "drug_info",
        domain: "health",
        verbs: &["get", "lookup"],
        nouns: &["drug_info", "medication_info", "drug_facts"],
        say: ("look up drug information", "查询药品信息"),
        required: &["medication"],
        optional: &["include_details"],
    },
    Action {
        id: "symptoms",
        domain: "health",
        verbs: &["check", "analyze"],
        nouns: &["symptoms", "symptom_causes"],
        say: ("check the possible causes", "查询可能的病因"),
        required: &["symptom"],
        optional: &["age"],
    },
    Action {
        id: "appointment",
        domain: "health",
        verbs: &["book", "schedule"],
        nouns: &["appointment", "doctor_appointment", "clinic_visit"],
        say: ("book a doctor's appointment", "预约看医生"),
        required: &["patient", "date", "time"],
        optional: &["notify"],
    },
    Action {
        id: "water_log",
        domain: "fitness",
        verbs: &["log", "record"],
        nouns: &["water_intake", "hydration"],
        say: ("log a drink of water", "记录一次饮水"),
        required: &["volume_ml"],
        optional: &["time"],
    },
    Action {
        id: "dose_check",
        domain: "health",
        verbs: &["check", "validate"],
        nouns: &["dosage", "dose_safety"],
        say: ("check whether a dose is safe", "检查剂量是否安全"),
        required: &["medication", "dosage_mg"],
        optional: &["age"],
    },
    // smart home
    Action {
        id: "thermostat",
        domain: "home",
        verbs: &["set", "adjust"],
        nouns: &["thermostat", "temperature", "climate"],
        say: ("set the thermostat", "设置空调温度"),
        required: &["room", "temperature"],
        optional: &["ac_mode"],
    },
    Action {
        id: "brightness",
        domain: "home",
        verbs: &["set", "adjust", "dim"],
        nouns: &["light_brightness", "brightness", "light_level"],
        say: ("set the light", "调节灯光"),
        required: &["device", "brightness"],
        optional: &[],
    },
    Action {
        id: "device_status",
        domain: "devices",
        verbs: &["get", "check"],
        nouns: &["device_status", "device_state"],
        say: ("check the status", "查看设备状态"),
        required: &["device"],
        optional: &["include_details"],
    },
    Action {
        id: "device_timer",
        domain: "devices",
        verbs: &["schedule", "set"],
        nouns: &["device_timer", "timer", "power_schedule"],
        say: ("schedule a device to turn on", "定时开启设备"),
        required: &["device", "time"],
        optional: &["period"],
    },
    Action {
        id: "play_music",
        domain: "media",
        verbs: &["play", "start"],
        nouns: &["music", "song", "track"],
        say: ("play the song", "播放歌曲"),
        required: &["song"],
        optional: &["artist", "volume"],
    },
    // math
    Action {
        id: "factorial",
        domain: "math",
        verbs: &["calculate", "compute"],
        nouns: &["factorial"],
        say: ("calculate the factorial", "计算阶乘"),
        required: &["n"],
        optional: &[],
    },
    Action {
        id: "circle_area",
        domain: "geometry",
        verbs: &["calculate", "compute"],
        nouns: &["circle_area", "area_circle", "area_of_circle"],
        say: ("calculate the area of a circle", "计算圆的面积"),
        required: &["radius"],
        optional: &["length_unit"],
    },
    Action {
        id: "triangle_area",
        domain: "geometry",
        verbs: &["calculate", "compute"],
        nouns: &["triangle_area", "area_triangle"],
        say: ("calculate the area of a triangle", "计算三角形的面积"),
        required: &["base", "tri_height"],
        optional: &["length_unit"],
    },
    Action {
        id: "gcd",
        domain: "math",
        verbs: &["calculate", "compute", "find"],
        nouns: &["gcd", "greatest_common_divisor"],
        say: ("find the greatest common divisor", "求最大公约数"),
        required: &["int_a", "int_b"],
        optional: &[],
    },
    Action {
        id: "mean",
        domain: "statistics",
        verbs: &["calculate", "compute"],
        nouns: &["mean", "average", "arithmetic_mean"],
        say: ("calculate the average", "计算平均值"),
        required: &["numbers"],
        optional: &[],
    },
    Action {
        id: "quadratic",
        domain: "algebra",
        verbs: &["solve"],
        nouns: &["quadratic", "quadratic_equation", "quadratic_roots"],
        say: ("solve the quadratic equation", "求解一元二次方程"),
        required: &["coef_a", "coef_b", "coef_c"],
        optional: &[],
    },
    Action {
        id: "prime",
        domain: "math",
        verbs: &["check", "test"],
        nouns: &["prime", "primality", "is_prime"],
        say: (
            "check whether this number is prime:",
            "判断这个数是否为质数：",
        ),
        required: &["big_n"],
        optional: &[],
    },
    // text
    Action {
        id: "translate",
        domain: "language",
        verbs: &["translate"],
        nouns: &["text", "sentence", "phrase"],
        say: ("translate the text", "翻译文本"),
        required: &["text", "language"],
        optional: &["source_language"],
    },
    Action {
        id: "sentiment",
        domain: "nlp",
        verbs: &["analyze", "detect", "classify"],
        nouns: &["sentiment", "text_sentiment", "emotion"],
        say: (
            "analyze the sentiment of this text:",
            "分析这段文本的情感倾向：",
        ),
        required: &["text"],
        optional: &["text_language"],
    },
    Action {
        id: "summarize",
        domain: "web",
        verbs: &["summarize", "get"],
        nouns: &["article_summary", "page_summary", "summary"],
        say: ("summarize the web page", "总结网页内容"),
        required: &["url"],
        optional: &["max_words"],
    },
    Action {
        id: "spellcheck",
        domain: "text",
        verbs: &["check", "proofread"],
        nouns: &["spelling", "grammar", "text"],
        say: (
            "check the spelling and grammar of this text:",
            "检查这段文本的拼写和语法：",
        ),
        required: &["text"],
        optional: &["text_language"],
    },
    Action {
        id: "keywords",
        domain: "nlp",
        verbs: &["extract", "get"],
        nouns: &["keywords", "key_phrases"],
        say: (
            "extract keywords from this text:",
            "从这段文本中提取关键词：",
        ),
        required: &["text"],
        optional: &["limit"],
    },
    // media
    Action {
        id: "search_movies",
        domain: "movies",
        verbs: &["search", "find", "discover"],
        nouns: &["movies", "films"],
        say: ("find movies", "查找电影"),
        required: &["genre"],
        optional: &["year", "min_rating", "limit"],
    },
    Action {
        id: "movie_details",
        domain: "movies",
        verbs: &["get", "fetch"],
        nouns: &["movie_details", "movie_info", "film_details"],
        say: ("get details about the movie", "获取电影详情"),
        required: &["movie"],
        optional: &["include_reviews"],
    },
    Action {
        id: "lyrics",
        domain: "music",
        verbs: &["get", "fetch", "find"],
        nouns: &["lyrics", "song_lyrics"],
        say: ("find the lyrics of a song", "查找歌词"),
        required: &["song", "artist"],
        optional: &[],
    },
    Action {
        id: "top_tracks",
        domain: "music",
        verbs: &["get", "list"],
        nouns: &["top_tracks", "popular_songs", "hits"],
        say: ("list the most popular songs", "列出最热门的歌曲"),
        required: &["artist"],
        optional: &["limit"],
    },
    Action {
        id: "search_books",
        domain: "books",
        verbs: &["search", "find"],
        nouns: &["books", "book", "titles"],
        say: ("search for a book", "搜索图书"),
        required: &["book"],
        optional: &["text_language", "limit"],
    },
    Action {
        id: "playlist",
        domain: "music",
        verbs: &["create", "make"],
        nouns: &["playlist"],
        say: ("create a playlist", "创建歌单"),
        required: &["playlist_name", "songs"],
        optional: &["music_genre"],
    },
    // e-commerce
    Action {
        id: "search_products",
        domain: "shop",
        verbs: &["search", "find"],
        nouns: &["products", "items", "catalog"],
        say: ("search the store", "在商店里搜索"),
        required: &["product"],
        optional: &["max_price", "sort_by", "min_rating", "page"],
    },
    Action {
        id: "order_status",
        domain: "shop",
        verbs: &["get", "track", "check"],
        nouns: &["order_status", "order", "shipment"],
        say: ("track an order", "查询订单状态"),
        required: &["order_id"],
        optional: &[],
    },
    Action {
        id: "place_order",
        domain: "ecommerce",
        verbs: &["place", "create"],
        nouns: &["order", "purchase"],
        say: ("place an order", "下单购买"),
        required: &["product", "quantity"],
        optional: &["shipping", "gift_wrap", "payment"],
    },
    Action {
        id: "cancel_order",
        domain: "ecommerce",
        verbs: &["cancel"],
        nouns: &["order", "purchase"],
        say: ("cancel an order", "取消订单"),
        required: &["order_id"],
        optional: &["reason"],
    },
    Action {
        id: "reviews",
        domain: "shop",
        verbs: &["get", "list"],
        nouns: &["product_reviews", "reviews", "ratings"],
        say: ("get customer reviews", "获取用户评价"),
        required: &["product"],
        optional: &["min_rating", "limit", "sort_order"],
    },
    // science
    Action {
        id: "element",
        domain: "chemistry",
        verbs: &["get", "lookup"],
        nouns: &["element_info", "element_properties"],
        say: (
            "get the properties of a chemical element",
            "查询化学元素的性质",
        ),
        required: &["element"],
        optional: &[],
    },
    Action {
        id: "molar_mass",
        domain: "chemistry",
        verbs: &["calculate", "compute"],
        nouns: &["molar_mass", "molecular_weight"],
        say: ("calculate the molar mass", "计算摩尔质量"),
        required: &["compound"],
        optional: &[],
    },
    Action {
        id: "species",
        domain: "biology",
        verbs: &["get", "lookup"],
        nouns: &["species_info", "animal_facts"],
        say: ("get facts about an animal species", "查询动物资料"),
        required: &["species"],
        optional: &["include_details"],
    },
    Action {
        id: "planet_distance",
        domain: "astronomy",
        verbs: &["calculate", "get"],
        nouns: &["planet_distance", "distance_to_planet"],
        say: ("get the distance from Earth", "查询地球到行星的距离"),
        required: &["planet", "date"],
        optional: &["unit_system"],
    },
    Action {
        id: "earthquakes",
        domain: "geology",
        verbs: &["search", "list"],
        nouns: &["earthquakes", "seismic_events"],
        say: ("list recent earthquakes", "列出最近的地震"),
        required: &["coordinates"],
        optional: &["magnitude", "limit"],
    },
    // files
    Action {
        id: "read_file",
        domain: "files",
        verbs: &["read", "open"],
        nouns: &["file", "file_content", "document"],
        say: ("read the file", "读取文件内容："),
        required: &["file_path"],
        optional: &[],
    },
    Action {
        id: "convert_file",
        domain: "files",
        verbs: &["convert", "export"],
        nouns: &["document", "file"],
        say: ("convert the document", "转换文档格式："),
        required: &["file_path", "file_format"],
        optional: &[],
    },
    Action {
        id: "share_file",
        domain: "drive",
        verbs: &["share", "send"],
        nouns: &["file", "document"],
        say: ("share the file", "分享文件"),
        required: &["file_path", "email"],
        optional: &["notify"],
    },
    Action {
        id: "search_files",
        domain: "drive",
        verbs: &["search", "find"],
        nouns: &["files", "documents"],
        say: ("search my files", "搜索文件"),
        required: &["keyword"],
        optional: &["file_format", "limit"],
    },
    Action {
        id: "compress",
        domain: "files",
        verbs: &["compress", "zip", "archive"],
        nouns: &["files", "folder"],
        say: (
            "compress files into one archive:",
            "把文件压缩成一个压缩包：",
        ),
        required: &["file_paths"],
        optional: &[],
    },
    // productivity
    Action {
        id: "create_event",
        domain: "calendar",
        verbs: &["create", "schedule", "add"],
        nouns: &["event", "meeting", "calendar_event"],
        say: ("schedule an event", "创建日程"),
        required: &["event_title", "date", "time"],
        optional: &["duration", "emails", "place"],
    },
    Action {
        id: "send_email",
        domain: "mail",
        verbs: &["send", "compose"],
        nouns: &["email", "mail", "message"],
        say: ("send an email", "发送邮件"),
        required: &["email", "subject"],
        optional: &["priority"],
    },
    Action {
        id: "reminder",
        domain: "tasks",
        verbs: &["create", "add", "set"],
        nouns: &["reminder", "task", "todo"],
        say: ("create a reminder", "创建提醒"),
        required: &["task_title", "date"],
        optional: &["time", "priority", "tags"],
    },
    // everyday
    Action {
        id: "weather",
        domain: "weather",
        verbs: &["get", "fetch"],
        nouns: &["weather", "forecast", "weather_forecast"],
        say: ("get the weather forecast", "获取天气预报"),
        required: &["city"],
        optional: &["days", "temp_unit"],
    },
    Action {
        id: "multi_weather",
        domain: "weather",
        verbs: &["compare", "get"],
        nouns: &["weather_in_cities", "multi_city_weather"],
        say: ("compare the weather", "比较天气"),
        required: &["cities"],
        optional: &["date", "temp_unit"],
    },
    Action {
        id: "air_quality",
        domain: "environment",
        verbs: &["get", "check"],
        nouns: &["air_quality", "aqi", "pollution"],
        say: ("check the air quality", "查询空气质量"),
        required: &["city"],
        optional: &["date"],
    },
    Action {
        id: "match_results",
        domain: "sports",
        verbs: &["get", "fetch"],
        nouns: &["match_results", "game_scores", "results"],
        say: ("get the latest match results", "获取最近的比赛结果"),
        required: &["team"],
        optional: &["sport", "limit"],
    },
    Action {
        id: "restaurants",
        domain: "food",
        verbs: &["search", "find", "recommend"],
        nouns: &["restaurants", "places_to_eat"],
        say: ("find restaurants", "查找餐厅"),
        required: &["city", "cuisine"],
        optional: &["min_rating", "guests"],
    },
    Action {
        id: "recipes",
        domain: "food",
        verbs: &["search", "find"],
        nouns: &["recipes", "dishes"],
        say: ("find recipes", "查找菜谱"),
        required: &["ingredients"],
        optional: &["cuisine", "max_time"],
    },
    Action {
        id: "jobs",
        domain: "jobs",
        verbs: &["search", "find", "list"],
        nouns: &["jobs", "job_openings", "vacancies"],
        say: ("search job openings", "搜索职位"),
        required: &["job_title", "city"],
        optional: &["min_salary"],
    },
    Action {
        id: "population",
        domain: "demographics",
        verbs: &["get", "lookup"],
        nouns: &["population", "population_stats"],
        say: ("get the population", "查询人口"),
        required: &["country", "year"],
        optional: &[],
    },
    Action {
        id: "events_nearby",
        domain: "events",
        verbs: &["find", "search"],
        nouns: &["events", "local_events", "concerts"],
        say: ("find events", "查找活动"),
        required: &["place", "date"],
        optional: &["keyword"],
    },
];

/// The concept with this id.
pub(crate) fn concept(id: &str) -> Option<&'static Concept> {
    CONCEPTS.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_uses_known_concepts_once() {
        for a in ACTIONS {
            let ids: Vec<&str> = a.required.iter().chain(a.optional).copied().collect();
            for id in &ids {
                assert!(concept(id).is_some(), "{}: unknown concept {id}", a.id);
                assert_eq!(
                    ids.iter().filter(|x| *x == id).count(),
                    1,
                    "{}: {id} twice",
                    a.id
                );
            }
            assert!(!a.verbs.is_empty() && !a.nouns.is_empty(), "{}", a.id);
        }
        for c in CONCEPTS {
            assert!(!c.names.is_empty(), "{}", c.id);
            if let Kind::Object(fields) = c.kind {
                for f in fields {
                    let inner = concept(f).unwrap_or_else(|| panic!("{}: field {f}", c.id));
                    assert!(!matches!(inner.kind, Kind::Object(_)), "{}", c.id);
                    assert!(c.say.0.contains(&format!("{{{f}}}")), "{}", c.id);
                }
            } else {
                assert!(
                    c.say.0.contains("{v}") && c.say.1.contains("{v}")
                        || matches!(c.kind, Kind::Bool),
                    "{}",
                    c.id
                );
            }
        }
        let mut ids: Vec<&str> = ACTIONS.iter().map(|a| a.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ACTIONS.len());
    }
}
